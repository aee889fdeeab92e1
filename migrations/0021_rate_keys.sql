-- 0021_rate_keys: a per-key rate, held across all processes.
--
-- A job may carry a rate key with a rate: at most rate_count jobs of the key
-- run within any window of rate_per (docs/job-engine.md "Rate keys"). A job
-- counts against its key from the moment it is claimed until rate_per after
-- it stops running (any outcome), so at most rate_count jobs start in any
-- window of rate_per, and, whatever a job does while it runs (the text it
-- sends), at most rate_count of those acts fall in any such window too, however
-- long each job took to get to it. For jobs that take milliseconds (a text)
-- that is the rate of starts; a job that runs for minutes holds its key for
-- as long (see the doc).
--
-- Admission happens in jobs_claim, next to concurrency admission and under a
-- transaction-scoped advisory lock per key: a key's jobs in its window are its
-- running jobs and the ends of the last rate_per (job_rate_ends, written by a
-- trigger when a keyed job stops running, in the same transaction). A
-- candidate over its key's rate goes back to `scheduled`, attempt unspent,
-- with run_at set to its turn: when the key next has room, behind the jobs
-- already waiting for the key, one job's share of the window
-- (rate_per / rate_count) apart, so a backlog comes back at the key's pace
-- instead of all at once. The promoter makes it available then, and it keeps
-- waiting_for_rate until it is claimed: a job back at its turn that finds the
-- key not quite free yet (the job before it ran late) is set aside to the
-- moment the key has room, keeping its place, where a newcomer would queue up
-- behind it.
--
-- The clock is read once every lock of the claim is held, and is the start
-- (attempted_at) of every job the claim admits.
--
-- Locks are taken in one fixed order: every concurrency key of the batch by
-- name, then every rate key by name. Nothing else takes a rate key's lock
-- (ends are inserted, never updated, so their writers need none), so rate keys
-- add no cycle to the (retried) deadlocks possible between concurrency
-- admission and release.

ALTER TABLE jobs
  ADD COLUMN rate_key text,
  ADD COLUMN rate_count integer,
  ADD COLUMN rate_per interval,
  ADD COLUMN waiting_for_rate boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN jobs.rate_key IS 'at most rate_count jobs with this key run within any window of rate_per, across all processes';
COMMENT ON COLUMN jobs.waiting_for_rate IS 'set aside because its rate key had no room when it was claimed (run_at is its turn); cleared when it is claimed';

-- NOT VALID: no existing row has a rate key, so the check needs no scan under this migration's lock;
-- every row inserted or updated from now on is checked.
ALTER TABLE jobs ADD CONSTRAINT jobs_rate_triple CHECK (
  (rate_key IS NULL) = (rate_count IS NULL) AND (rate_key IS NULL) = (rate_per IS NULL)
  AND (rate_count IS NULL OR rate_count >= 1) AND (rate_per IS NULL OR rate_per > interval '0')
) NOT VALID;

-- A key's running jobs.
CREATE INDEX jobs_rate_running_idx ON jobs (rate_key) WHERE state = 'running' AND rate_key IS NOT NULL;
-- The jobs waiting for a key's room, by turn: the last one's turn is where the next waiting job queues up.
CREATE INDEX jobs_rate_waiting_idx ON jobs (rate_key, run_at) WHERE state = 'scheduled' AND waiting_for_rate;

-- When a keyed job stopped running. Admission deletes a key's ends once they are out of its window;
-- retention (JobStore.prune) those of keys idle for a day.
CREATE TABLE job_rate_ends (
  rate_key text        NOT NULL,
  ended_at timestamptz NOT NULL
);
CREATE INDEX job_rate_ends_key_idx ON job_rate_ends (rate_key, ended_at);

-- The end of a run is the stopping transaction's start: after anything the job did while it ran.
CREATE FUNCTION jobs_rate_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_rate_ends (rate_key, ended_at) VALUES (OLD.rate_key, now());
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_rate_ended AFTER UPDATE OF state ON jobs FOR EACH ROW
  WHEN (OLD.state = 'running' AND NEW.state <> 'running' AND OLD.rate_key IS NOT NULL)
  EXECUTE FUNCTION jobs_rate_ended();

CREATE FUNCTION jobs_rate_lock(p_key text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended('switchboard:rate-key:' || p_key, 0))
$$;

-- Admits the candidates p_ids (locked by the caller) that their keys allow, in priority, run_at, id
-- order, and sets the others aside, attempt unspent: over a concurrency key's limit, `scheduled` with
-- waiting_for_slot (woken when a slot frees; p_recheck is only a safety net); within it but over a
-- rate key's rate, `scheduled` with waiting_for_rate until its turn. A job with both keys must pass
-- both, and a slot it would have held is left to the next candidate when its rate refuses it. The
-- promoters are woken when a job was set aside until its turn. Returns the admitted ids and their start.
-- Replaces jobs_admit(bigint[], interval), which returned only the ids.
DROP FUNCTION jobs_admit(bigint[], interval);
CREATE FUNCTION jobs_admit(p_ids bigint[], p_recheck interval, OUT admitted bigint[], OUT started_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  v_ckeys text[];
  v_cused integer[];
  v_rkeys text[];
  v_radded integer[];
  v_i integer;
  v_j integer;
  v_key text;
  v_running integer;
  v_ended integer;
  v_room timestamptz;
  v_turn timestamptz;
  v_waiting boolean := false;
  r record;
BEGIN
  admitted := '{}';
  -- every lock first, in the fixed order: concurrency keys by name, then rate keys by name
  SELECT coalesce(array_agg(k ORDER BY k), '{}') INTO v_ckeys
    FROM (SELECT DISTINCT concurrency_key AS k FROM jobs WHERE id = ANY(p_ids) AND concurrency_key IS NOT NULL) c;
  SELECT coalesce(array_agg(k ORDER BY k), '{}') INTO v_rkeys
    FROM (SELECT DISTINCT rate_key AS k FROM jobs WHERE id = ANY(p_ids) AND rate_key IS NOT NULL) c;
  FOREACH v_key IN ARRAY v_ckeys LOOP
    PERFORM jobs_concurrency_lock(v_key);
  END LOOP;
  FOREACH v_key IN ARRAY v_rkeys LOOP
    PERFORM jobs_rate_lock(v_key);
  END LOOP;
  -- every statement from here on sees what the locks' previous holders committed
  started_at := CASE WHEN cardinality(v_rkeys) > 0 THEN clock_timestamp() ELSE now() END;
  v_cused := ARRAY(SELECT jobs_slots_in_use(k) FROM unnest(v_ckeys) WITH ORDINALITY AS u(k, n) ORDER BY n);
  -- jobs of a rate key this call admitted: running once the claim commits
  v_radded := array_fill(0, ARRAY[cardinality(v_rkeys)]);
  -- ends that left every window of their key
  DELETE FROM job_rate_ends e
   USING (SELECT rate_key, max(rate_per) AS per FROM jobs WHERE id = ANY(p_ids) AND rate_key IS NOT NULL GROUP BY rate_key) k
   WHERE e.rate_key = k.rate_key AND e.ended_at <= started_at - k.per;

  FOR r IN SELECT id, concurrency_key, concurrency_limit, rate_key, rate_count, rate_per, waiting_for_rate FROM jobs
            WHERE id = ANY(p_ids) ORDER BY priority, run_at, id LOOP
    v_i := CASE WHEN r.concurrency_key IS NULL THEN NULL ELSE array_position(v_ckeys, r.concurrency_key) END;
    IF v_i IS NOT NULL AND v_cused[v_i] >= r.concurrency_limit THEN
      UPDATE jobs SET state = 'scheduled', waiting_for_slot = true, waiting_for_rate = false, run_at = now() + p_recheck WHERE id = r.id;
      CONTINUE;
    END IF;
    IF r.rate_key IS NOT NULL THEN
      v_j := array_position(v_rkeys, r.rate_key);
      -- the key's jobs in its window: the running ones (and those admitted here), and those that ended within it
      SELECT count(*)::integer + v_radded[v_j] INTO v_running FROM jobs WHERE state = 'running' AND rate_key = r.rate_key;
      SELECT count(*)::integer INTO v_ended FROM job_rate_ends e WHERE e.rate_key = r.rate_key AND e.ended_at > started_at - r.rate_per;
      v_room := NULL;
      IF v_running >= r.rate_count THEN
        -- at the soonest: one of them ends now
        v_room := started_at + r.rate_per;
      ELSIF v_running + v_ended >= r.rate_count THEN
        -- when enough ends have left the window
        SELECT e.ended_at + r.rate_per INTO v_room FROM job_rate_ends e
         WHERE e.rate_key = r.rate_key AND e.ended_at > started_at - r.rate_per
         ORDER BY e.ended_at DESC OFFSET r.rate_count - v_running - 1 LIMIT 1;
      ELSIF NOT r.waiting_for_rate THEN
        -- room now; but a newcomer lets a job whose turn has come (due, not promoted yet) go first
        PERFORM 1 FROM jobs w
         WHERE w.state = 'scheduled' AND w.waiting_for_rate AND w.rate_key = r.rate_key AND w.run_at <= started_at;
        IF FOUND THEN
          v_room := started_at + r.rate_per / r.rate_count;
        END IF;
      END IF;
      IF v_room IS NOT NULL THEN
        IF r.waiting_for_rate THEN
          -- back at its turn, a little before the key has room (the job before it ran late): it keeps its
          -- place and comes back at the soonest the key can have room
          v_turn := v_room;
        ELSE
          -- a newcomer queues up behind the jobs already waiting for the key
          SELECT greatest(v_room, max(w.run_at) + r.rate_per / r.rate_count) INTO v_turn FROM jobs w
           WHERE w.state = 'scheduled' AND w.waiting_for_rate AND w.rate_key = r.rate_key;
        END IF;
        UPDATE jobs SET state = 'scheduled', waiting_for_rate = true, run_at = v_turn WHERE id = r.id;
        v_waiting := true;
        CONTINUE;
      END IF;
      v_radded[v_j] := v_radded[v_j] + 1;
    END IF;
    IF v_i IS NOT NULL THEN
      v_cused[v_i] := v_cused[v_i] + 1;
    END IF;
    admitted := admitted || r.id;
  END LOOP;
  IF v_waiting THEN
    -- a promoter asleep until a later run_at must see this one's turn
    PERFORM pg_notify('switchboard_jobs', '@scheduled');
  END IF;
END $$;

-- As in 0001, and: rate keys are admitted with concurrency keys (jobs_admit), an admitted job's
-- attempted_at is the time admission read once it held every lock, and the queue's pools are woken when candidates
-- were set aside from a full batch (more may be available behind them: claim again rather than wait
-- for the poll).
CREATE OR REPLACE FUNCTION jobs_claim(p_queue text, p_kinds text[], p_limit integer, p_process uuid, p_recheck interval)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  v_ids bigint[];
  v_candidates integer;
  v_keyed boolean;
  v_started timestamptz := now();
  v_claimed json;
BEGIN
  -- A process that was presumed dead (and whose jobs were rescued) must register
  -- again before it claims; the key-share lock holds off a concurrent prune until we commit.
  PERFORM 1 FROM processes WHERE processes.id = p_process FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'process % is not registered', p_process USING ERRCODE = 'SBP01';
  END IF;
  SELECT array_agg(c.id), bool_or(c.concurrency_key IS NOT NULL OR c.rate_key IS NOT NULL) INTO v_ids, v_keyed
    FROM (SELECT j.id, j.concurrency_key, j.rate_key FROM jobs j
           WHERE j.state = 'available' AND j.queue = p_queue AND j.kind = ANY(p_kinds)
           ORDER BY j.priority, j.run_at, j.id
           LIMIT p_limit
           FOR UPDATE SKIP LOCKED) c;
  IF v_ids IS NULL THEN
    RETURN '[]'::json;
  END IF;
  IF v_keyed THEN
    v_candidates := cardinality(v_ids);
    SELECT a.admitted, a.started_at INTO v_ids, v_started FROM jobs_admit(v_ids, p_recheck) a;
    IF cardinality(v_ids) < v_candidates AND v_candidates = p_limit THEN
      PERFORM pg_notify('switchboard_jobs', p_queue);
    END IF;
  END IF;
  PERFORM set_config('synchronous_commit', 'off', true);
  -- One JSON array of [id, kind, args, priority, attempt, max_attempts, lease, traceparent]
  -- tuples: a single value to parse instead of hundreds of rows.
  WITH claimed AS (
    UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, lease = nextval('job_leases'),
                      locked_by = p_process, attempted_at = v_started, waiting_for_rate = false
     WHERE j.id = ANY(v_ids)
    RETURNING j.id, j.kind, j.args, j.priority, j.run_at, j.attempt, j.max_attempts, j.lease, j.traceparent
  )
  SELECT coalesce(json_agg(json_build_array(c.id::text, c.kind, c.args, c.priority, c.attempt, c.max_attempts,
                                            c.lease::text, c.traceparent) ORDER BY c.priority, c.run_at, c.id), '[]'::json)
    INTO v_claimed FROM claimed c;
  RETURN v_claimed;
END $$;
