-- 0009_webhooks: signed outbound webhooks (docs/webhooks.md).
--
-- A business registers endpoints: a URL, the event types it wants (none
-- listed: all of them) and a signing secret. Every committed event of a
-- callback request (0006) becomes, for each enabled endpoint of its business
-- whose types match, one outbox row and one `webhooks.deliver` job, both
-- inserted by a trigger on callback_events in the event's own transaction:
-- an event is delivered if and only if it committed, and the jobs' own insert
-- trigger (0001) wakes the `webhooks` pools at commit. An event of a business
-- without endpoints costs one probe of webhook_endpoints_business_idx.
--
-- webhook_outbox: one row per (endpoint, event), `pending` until an attempt
-- is answered 2xx (`delivered`) or the delivery is given up (`dead`). `job_id`
-- is its current delivery job; `retry_from` starts the retry window (at
-- creation, replay, and when a disabled endpoint is enabled again).
-- webhook_attempts: the delivery log, one row per attempt.
--
-- The job's queue, kind, attempts bound and concurrency key written here are
-- those of `WebhookDeliver` (domain/callbacks/Jobs.ts); a test holds them equal.

CREATE TABLE webhook_endpoints (
  id                    uuid        PRIMARY KEY,
  business_id           uuid        NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
  url                   text        NOT NULL,
  description           text,
  -- empty: every event type
  event_types           text[]      NOT NULL DEFAULT '{}',
  -- whsec_<base64>: the key of the HMAC; the previous one keeps signing until previous_secret_until
  secret                text        NOT NULL,
  previous_secret       text,
  previous_secret_until timestamptz,
  enabled               boolean     NOT NULL DEFAULT true,
  disabled_at           timestamptz,
  disabled_reason       text,
  -- the current run of failed attempts (reset by a delivered one)
  consecutive_failures  integer     NOT NULL DEFAULT 0,
  failing_since         timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_endpoints_previous_pair CHECK ((previous_secret IS NULL) = (previous_secret_until IS NULL))
);
CREATE INDEX webhook_endpoints_business_idx ON webhook_endpoints (business_id, created_at, id);

CREATE SEQUENCE webhook_outbox_ids AS bigint;

CREATE TABLE webhook_outbox (
  id          bigint      PRIMARY KEY DEFAULT nextval('webhook_outbox_ids'),
  endpoint_id uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id    uuid        NOT NULL REFERENCES callback_events (id) ON DELETE CASCADE,
  callback_id uuid        NOT NULL,
  seq         integer     NOT NULL,
  event_type  text        NOT NULL,
  state       text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  -- no foreign key: finished jobs are pruned (JOB_RETENTION)
  job_id      bigint,
  retry_from  timestamptz NOT NULL DEFAULT now(),
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (endpoint_id, event_id),
  CONSTRAINT webhook_outbox_finished CHECK ((state = 'pending') = (finished_at IS NULL))
);
ALTER SEQUENCE webhook_outbox_ids OWNED BY webhook_outbox.id;
-- Ordering: the earlier pending deliveries of one (endpoint, request); also the pending gauge.
CREATE INDEX webhook_outbox_pending_idx ON webhook_outbox (endpoint_id, callback_id, seq) WHERE state = 'pending';
-- Cascades from retention of requests.
CREATE INDEX webhook_outbox_event_idx ON webhook_outbox (event_id);
-- Retention of finished deliveries.
CREATE INDEX webhook_outbox_finished_idx ON webhook_outbox (finished_at) WHERE state <> 'pending';

CREATE TABLE webhook_attempts (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  outbox_id        bigint      NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
  endpoint_id      uuid        NOT NULL,
  event_id         uuid        NOT NULL,
  event_type       text        NOT NULL,
  outcome          text        NOT NULL CHECK (outcome IN ('delivered', 'failed', 'refused')),
  status_code      integer,
  error            text,
  latency_ms       integer     NOT NULL,
  -- at most 1 KiB of the response body
  response_excerpt text,
  at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id DESC);
CREATE INDEX webhook_attempts_outbox_idx ON webhook_attempts (outbox_id);
CREATE INDEX webhook_attempts_at_idx ON webhook_attempts (at);

-- The outbox: one row and one delivery job per matching enabled endpoint, for
-- every event the inserting statement wrote. The outbox ids are drawn first
-- (a CTE with nextval is evaluated once), so job and row can name each other.
CREATE FUNCTION callback_events_webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH targets AS (
    SELECT nextval('webhook_outbox_ids') AS outbox_id, w.id AS endpoint_id, e.id AS event_id,
           e.callback_id, e.seq, e.type
      FROM inserted e
      JOIN webhook_endpoints w ON w.business_id = e.business_id AND w.enabled
     WHERE cardinality(w.event_types) = 0 OR e.type = ANY (w.event_types)
  ), added AS (
    INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, concurrency_key, concurrency_limit)
    SELECT 'webhooks', 'webhooks.deliver',
           jsonb_build_object('outboxId', t.outbox_id::text, 'callbackId', t.callback_id),
           'available', 2, 500, 'webhook:' || t.endpoint_id || ':' || t.callback_id, 1
      FROM targets t ORDER BY t.callback_id, t.seq, t.endpoint_id
    RETURNING id, (args ->> 'outboxId')::bigint AS outbox_id
  )
  INSERT INTO webhook_outbox (id, endpoint_id, event_id, callback_id, seq, event_type, job_id)
  SELECT t.outbox_id, t.endpoint_id, t.event_id, t.callback_id, t.seq, t.type, a.id
    FROM targets t JOIN added a ON a.outbox_id = t.outbox_id;
  RETURN NULL;
END
$$;

CREATE TRIGGER callback_events_webhook_outbox AFTER INSERT ON callback_events
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION callback_events_webhook_outbox();
