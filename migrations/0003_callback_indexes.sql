-- 0003_callback_indexes: indexes for the callback platform's maintenance paths.
--
-- Purging a finished request cascades to its texts (the unique index on
-- sms_messages leaves verification texts out, so it cannot serve the cascade),
-- the retention sweep looks for requests by when they finished, and a call
-- that was never placed takes back its rate-limit event by reference.

CREATE INDEX sms_messages_callback_idx ON sms_messages (callback_id);
CREATE INDEX callback_requests_finished_idx ON callback_requests (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX rate_events_ref_idx ON rate_events (ref) WHERE ref IS NOT NULL;
