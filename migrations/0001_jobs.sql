-- 0001_jobs: the durable job engine.
--
-- One row per unit of background work, one row per live process. Every state
-- change is a single conditional statement, safe to run from every process at
-- once; see domain/jobs/JobState.ts for the legal transitions.

CREATE TYPE job_state AS ENUM (
  'scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled'
);

-- A fresh value per claim: every later write of that attempt must present it (fencing).
CREATE SEQUENCE job_leases AS bigint CACHE 1000;

CREATE TABLE jobs (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue             text        NOT NULL,
  kind              text        NOT NULL,
  args              jsonb       NOT NULL DEFAULT '{}'::jsonb,
  state             job_state   NOT NULL,
  priority          smallint    NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 9),
  run_at            timestamptz NOT NULL DEFAULT now(),
  attempt           integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  max_attempts      integer     NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
  lease             bigint,
  locked_by         uuid,
  attempted_at      timestamptz,
  finished_at       timestamptz,
  errors            jsonb       NOT NULL DEFAULT '[]'::jsonb,
  unique_key        text,
  concurrency_key   text,
  concurrency_limit integer     CHECK (concurrency_limit >= 1),
  waiting_for_slot  boolean     NOT NULL DEFAULT false,
  traceparent       text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT jobs_lease_iff_running CHECK ((state = 'running') = (lease IS NOT NULL)),
  CONSTRAINT jobs_concurrency_pair CHECK ((concurrency_key IS NULL) = (concurrency_limit IS NULL))
)
-- Every job is updated at least twice (claim, outcome). Half-empty pages let the new
-- row version stay on its page: measured here, it cuts a batched completion's cost by ~40%.
WITH (fillfactor = 50);

-- The claim scan: available jobs of a queue in priority, run_at, id order.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority, run_at, id) WHERE state = 'available';
-- The promoter: scheduled and retryable jobs by due time.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');
-- Rescue and hand-back: running jobs by holder.
CREATE INDEX jobs_running_idx ON jobs (locked_by) WHERE state = 'running';
-- Concurrency keys: running jobs per key, and the jobs waiting for a slot.
CREATE INDEX jobs_key_running_idx ON jobs (concurrency_key) WHERE state = 'running' AND concurrency_key IS NOT NULL;
CREATE INDEX jobs_key_waiting_idx ON jobs (concurrency_key, priority, run_at, id)
  WHERE state = 'scheduled' AND waiting_for_slot;
-- Idempotent enqueue: one job per unique key while its row exists (cron uses cron:<name>:<slot>).
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key) WHERE unique_key IS NOT NULL;
-- Operators looking for dead letters.
CREATE INDEX jobs_discarded_idx ON jobs (id) WHERE state = 'discarded';

CREATE TABLE processes (
  id           uuid        PRIMARY KEY,
  role         text        NOT NULL,
  hostname     text        NOT NULL,
  pid          integer     NOT NULL,
  queues       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Wake-up: one NOTIFY per queue per inserting statement (Postgres folds duplicates
-- within a transaction and delivers them at commit, so a rolled-back enqueue wakes nobody).
-- Scheduled jobs wake the promoters instead, so an earlier run_at is not missed.
CREATE FUNCTION jobs_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('switchboard_jobs', q.payload)
     FROM (SELECT DISTINCT CASE WHEN state = 'available' THEN queue ELSE '@scheduled' END AS payload
             FROM inserted WHERE state IN ('available', 'scheduled')) q;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_notify_inserted AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- Concurrency keys. Admission and release of one key are serialised by a
-- transaction-scoped advisory lock on that key, so "running jobs with key K"
-- never exceeds the limit, across any number of processes.
CREATE FUNCTION jobs_concurrency_lock(p_key text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended('switchboard:concurrency:' || p_key, 0))
$$;

-- When a keyed job stops running (completed, failed, snoozed, rescued, handed back,
-- cancelled), the next job waiting for that key becomes available at once.
CREATE FUNCTION jobs_release_slot() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_queue text;
BEGIN
  PERFORM jobs_concurrency_lock(OLD.concurrency_key);
  UPDATE jobs SET state = 'available', waiting_for_slot = false, run_at = now()
   WHERE id = (SELECT id FROM jobs
                WHERE state = 'scheduled' AND waiting_for_slot AND concurrency_key = OLD.concurrency_key
                ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING queue INTO v_queue;
  IF v_queue IS NOT NULL THEN
    PERFORM pg_notify('switchboard_jobs', v_queue);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_release_slot AFTER UPDATE OF state ON jobs FOR EACH ROW
  WHEN (OLD.state = 'running' AND NEW.state <> 'running' AND OLD.concurrency_key IS NOT NULL)
  EXECUTE FUNCTION jobs_release_slot();

-- Keyed candidates over their key's limit wait as scheduled (no attempt spent) with
-- waiting_for_slot set; p_recheck is only a safety net behind jobs_release_slot.
CREATE FUNCTION jobs_admit(p_ids bigint[], p_recheck interval) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
  v_admitted bigint[];
  v_key text;
  v_running integer;
  r record;
BEGIN
  SELECT coalesce(array_agg(id), '{}') INTO v_admitted FROM jobs WHERE id = ANY(p_ids) AND concurrency_key IS NULL;
  FOR v_key IN SELECT DISTINCT concurrency_key FROM jobs
                WHERE id = ANY(p_ids) AND concurrency_key IS NOT NULL ORDER BY 1 LOOP
    PERFORM jobs_concurrency_lock(v_key);
    SELECT count(*) INTO v_running FROM jobs WHERE state = 'running' AND concurrency_key = v_key;
    FOR r IN SELECT id, concurrency_limit FROM jobs
              WHERE id = ANY(p_ids) AND concurrency_key = v_key ORDER BY priority, run_at, id LOOP
      IF v_running < r.concurrency_limit THEN
        v_admitted := v_admitted || r.id;
        v_running := v_running + 1;
      ELSE
        UPDATE jobs SET state = 'scheduled', waiting_for_slot = true, run_at = now() + p_recheck WHERE id = r.id;
      END IF;
    END LOOP;
  END LOOP;
  RETURN v_admitted;
END $$;

-- Claim up to p_limit available jobs of one queue for one process: a fresh lease
-- each, the attempt spent now (so a job that kills its process is still bounded),
-- returned in priority, run_at, id order.
--
-- A claim commits without waiting for its WAL flush (synchronous_commit off for
-- this transaction only). If the server crashes, a claim from its last moments
-- can be lost: the job is then simply `available` again with its attempt
-- unspent, and the worker that ran it is fenced off when it writes the outcome.
-- That only repeats a run, which at-least-once delivery allows; enqueues and
-- outcomes keep synchronous commits, so no job and no result is ever lost.
CREATE FUNCTION jobs_claim(p_queue text, p_kinds text[], p_limit integer, p_process uuid, p_recheck interval)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  v_ids bigint[];
  v_keyed boolean;
  v_claimed json;
BEGIN
  -- A process that was presumed dead (and whose jobs were rescued) must register
  -- again before it claims; the key-share lock holds off a concurrent prune until we commit.
  PERFORM 1 FROM processes WHERE processes.id = p_process FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'process % is not registered', p_process USING ERRCODE = 'SBP01';
  END IF;
  SELECT array_agg(c.id), bool_or(c.concurrency_key IS NOT NULL) INTO v_ids, v_keyed
    FROM (SELECT j.id, j.concurrency_key FROM jobs j
           WHERE j.state = 'available' AND j.queue = p_queue AND j.kind = ANY(p_kinds)
           ORDER BY j.priority, j.run_at, j.id
           LIMIT p_limit
           FOR UPDATE SKIP LOCKED) c;
  IF v_ids IS NULL THEN
    RETURN '[]'::json;
  END IF;
  IF v_keyed THEN
    v_ids := jobs_admit(v_ids, p_recheck);
  END IF;
  PERFORM set_config('synchronous_commit', 'off', true);
  -- One JSON array of [id, kind, args, priority, attempt, max_attempts, lease, traceparent]
  -- tuples: a single value to parse instead of hundreds of rows.
  WITH claimed AS (
    UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, lease = nextval('job_leases'),
                      locked_by = p_process, attempted_at = now()
     WHERE j.id = ANY(v_ids)
    RETURNING j.id, j.kind, j.args, j.priority, j.run_at, j.attempt, j.max_attempts, j.lease, j.traceparent
  )
  SELECT coalesce(json_agg(json_build_array(c.id::text, c.kind, c.args, c.priority, c.attempt, c.max_attempts,
                                            c.lease::text, c.traceparent) ORDER BY c.priority, c.run_at, c.id), '[]'::json)
    INTO v_claimed FROM claimed c;
  RETURN v_claimed;
END $$;
