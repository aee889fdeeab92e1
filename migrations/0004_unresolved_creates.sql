-- 0004_unresolved_creates: before creating a call, a dial looks for an attempt
-- to the same number whose create has no definite answer yet (`placing` or
-- `unknown`, AttemptStore.mayCreateTo); this index keeps that check off the
-- whole call history of a busy number.

CREATE INDEX call_attempts_to_status_idx ON call_attempts (to_phone, status, started_at);
