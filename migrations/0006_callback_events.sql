-- 0006_callback_events: the append-only history of every callback request.
--
-- Every change of a request (created, code sent, verified, a dial, each call
-- status report, retry, escalation, texts, the end, an operator's retry) is
-- one row, inserted by the statement (or in the transaction) that makes the
-- change. Rows are never updated; only retention deletes them, with their
-- request (ON DELETE CASCADE).
--
-- Order:
-- - `seq` numbers a request's events 1, 2, 3, ... with no gap. It is claimed by
--   bumping `callback_requests.event_seq`, which holds the request's row lock
--   until commit, so a request's events commit in `seq` order.
-- - The global order is (`tx`, `position`). `position` is a sequence, but
--   sequence values are handed out before commit, so reading `position > n`
--   can skip an event whose transaction commits late. A reader therefore only
--   reads events with `tx` below the oldest transaction still running
--   (`pg_snapshot_xmin`); that set never grows behind a cursor, so a reader
--   resuming after (tx, position) misses nothing and sees nothing twice.
--   `tx` is the writer's transaction id, raised to the request's previous
--   event's `tx` when that is higher (`callback_requests.event_tx`), so the
--   global order keeps each request's events in `seq` order.

ALTER TABLE callback_requests
  ADD COLUMN event_seq integer NOT NULL DEFAULT 0,
  ADD COLUMN event_tx  xid8    NOT NULL DEFAULT '0';

CREATE TABLE callback_events (
  position    bigserial   PRIMARY KEY,
  id          uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  tx          xid8        NOT NULL,
  callback_id uuid        NOT NULL REFERENCES callback_requests (id) ON DELETE CASCADE,
  business_id uuid        NOT NULL,
  seq         integer     NOT NULL,
  type        text        NOT NULL,
  -- the request's status once the event happened
  status      text        NOT NULL,
  data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (callback_id, seq)
);
CREATE INDEX callback_events_order_idx ON callback_events (tx, position);
CREATE INDEX callback_events_business_idx ON callback_events (business_id, tx, position);
CREATE INDEX callback_events_type_at_idx ON callback_events (type, at);

-- Append-only: an event is never changed.
CREATE FUNCTION callback_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'callback_events is append-only: events are never updated';
END
$$;
CREATE TRIGGER callback_events_append_only BEFORE UPDATE ON callback_events
  FOR EACH ROW EXECUTE FUNCTION callback_events_append_only();
