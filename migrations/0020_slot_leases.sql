-- 0020_slot_leases: a concurrency slot can outlive the job that took it.
--
-- A job admitted under a concurrency key holds one of the key's slots while
-- it runs. Some work goes on after its job is done: a call placed by a dial
-- job lasts minutes, and no runner should wait through it. Such a job writes
-- a lease (one row, named by its holder: the call attempt) in a transaction
-- of its own while it still runs, and ends; the lease holds the slot until it
-- is deleted (the call ended), which wakes the key's next waiting job.
--
-- A key's slots in use are its running jobs plus its leases. A job that has
-- written its lease counts twice until it ends (never less than once), so the
-- key's limit holds at every moment, across processes and crashes: a lease
-- belongs to no process and survives them.

ALTER TABLE call_attempts ADD COLUMN status_at timestamptz;
UPDATE call_attempts SET status_at = started_at;
ALTER TABLE call_attempts ALTER COLUMN status_at SET DEFAULT now(), ALTER COLUMN status_at SET NOT NULL;
COMMENT ON COLUMN call_attempts.status_at IS 'when the attempt last changed status (its silence is measured from here)';

CREATE TABLE job_slot_leases (
  holder          text        PRIMARY KEY,
  concurrency_key text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_slot_leases_key_idx ON job_slot_leases (concurrency_key);

-- A key's slots in use: its running jobs and its leases.
CREATE FUNCTION jobs_slots_in_use(p_key text) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT ((SELECT count(*) FROM jobs WHERE state = 'running' AND concurrency_key = p_key)
        + (SELECT count(*) FROM job_slot_leases WHERE concurrency_key = p_key))::integer
$$;

-- Makes the key's next waiting job available, if a slot is free for it (under the key's lock).
CREATE FUNCTION jobs_wake_waiting(p_key text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
  v_limit integer;
  v_queue text;
BEGIN
  PERFORM jobs_concurrency_lock(p_key);
  SELECT id, concurrency_limit INTO v_id, v_limit FROM jobs
   WHERE state = 'scheduled' AND waiting_for_slot AND concurrency_key = p_key
   ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF v_id IS NULL OR jobs_slots_in_use(p_key) >= v_limit THEN
    RETURN;
  END IF;
  UPDATE jobs SET state = 'available', waiting_for_slot = false, run_at = now() WHERE id = v_id
  RETURNING queue INTO v_queue;
  PERFORM pg_notify('switchboard_jobs', v_queue);
END $$;

CREATE OR REPLACE FUNCTION jobs_release_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM jobs_wake_waiting(OLD.concurrency_key);
  RETURN NULL;
END $$;

CREATE FUNCTION job_slot_leases_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM jobs_wake_waiting(OLD.concurrency_key);
  RETURN NULL;
END $$;

CREATE TRIGGER job_slot_leases_release AFTER DELETE ON job_slot_leases FOR EACH ROW
  EXECUTE FUNCTION job_slot_leases_release();

CREATE OR REPLACE FUNCTION jobs_admit(p_ids bigint[], p_recheck interval) RETURNS bigint[] LANGUAGE plpgsql AS $$
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
    v_running := jobs_slots_in_use(v_key);
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
