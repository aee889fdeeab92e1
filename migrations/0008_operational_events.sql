-- 0008_operational_events: what happens to the machinery around the requests.
--
-- A job attempt that failed, a job given up (discarded) or cancelled, a
-- discarded job retried by an operator, a webhook endpoint disabled after a
-- run of failed deliveries or enabled again: each is one immutable row, in
-- the transaction of the change, beside the request history (0006). The
-- operators' live stream (`GET /admin/api/events`) merges both in one order:
-- `position` comes from the history's own sequence and `tx` is the writer's
-- transaction id, so the (tx, position) cursor and the read horizon of 0006
-- hold for the two tables together.
--
-- Job rows get theirs from a trigger that fires only on those transitions, so
-- the engine's happy path (claim, complete) pays nothing.

CREATE TABLE operational_events (
  position    bigint      PRIMARY KEY DEFAULT nextval(pg_get_serial_sequence('callback_events', 'position')),
  id          uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  tx          xid8        NOT NULL DEFAULT pg_current_xact_id(),
  -- the business it concerns, when it concerns one (a job's callback request's, an endpoint's)
  business_id uuid,
  type        text        NOT NULL,
  -- what it is about: a job's id, a webhook endpoint's id
  subject     text        NOT NULL,
  data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX operational_events_order_idx ON operational_events (tx, position);
CREATE INDEX operational_events_business_idx ON operational_events (business_id, tx, position);
CREATE INDEX operational_events_at_idx ON operational_events (at);

CREATE FUNCTION operational_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'operational_events is append-only: events are never updated';
END
$$;
CREATE TRIGGER operational_events_append_only BEFORE UPDATE ON operational_events
  FOR EACH ROW EXECUTE FUNCTION operational_events_append_only();

-- Wakes the event streams at commit (once per transaction: Postgres folds equal notifications).
CREATE FUNCTION operational_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('switchboard_jobs', '@events');
  RETURN NULL;
END
$$;
CREATE TRIGGER operational_events_notify AFTER INSERT ON operational_events
  FOR EACH ROW EXECUTE FUNCTION operational_events_notify();

-- A job's failed attempts, give-ups, cancellations, rescues from a dead process,
-- and operator retries of a dead or cancelled job. (An operator's retry of a
-- retryable job looks like its promotion, and is not recorded.)
CREATE FUNCTION jobs_operational_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_callback text := NEW.args ->> 'callbackId';
  v_business uuid;
BEGIN
  IF v_callback ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
    SELECT business_id INTO v_business FROM callback_requests WHERE id = v_callback::uuid;
  END IF;
  INSERT INTO operational_events (business_id, type, subject, data)
  VALUES (v_business,
          CASE WHEN NEW.state = 'retryable' THEN 'job.failed'
               WHEN NEW.state = 'discarded' THEN 'job.discarded'
               WHEN NEW.state = 'cancelled' THEN 'job.cancelled'
               WHEN OLD.state = 'running' THEN 'job.rescued'
               ELSE 'job.retried' END,
          NEW.id::text,
          jsonb_strip_nulls(jsonb_build_object(
            'kind', NEW.kind, 'queue', NEW.queue, 'attempt', NEW.attempt, 'maxAttempts', NEW.max_attempts,
            'callbackId', v_callback,
            'error', CASE WHEN NEW.state IN ('retryable', 'discarded') OR OLD.state = 'running' THEN NEW.errors -> -1 -> 'message' END,
            'runAt', CASE WHEN NEW.state IN ('retryable', 'available') THEN NEW.run_at END)));
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_operational_event AFTER UPDATE OF state ON jobs FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state
        AND (NEW.state IN ('retryable', 'discarded', 'cancelled')
             OR (OLD.state IN ('discarded', 'cancelled') AND NEW.state IN ('available', 'scheduled'))
             OR (OLD.state = 'running' AND NEW.state = 'available' AND NEW.errors -> -1 ->> 'kind' = 'rescued'
                 AND jsonb_array_length(NEW.errors) > jsonb_array_length(OLD.errors))))
  EXECUTE FUNCTION jobs_operational_event();
