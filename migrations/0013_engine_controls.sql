-- 0013_engine_controls: operators' controls of the job engine, honoured by
-- every process (infra/jobs/EngineControls.ts, docs/job-engine.md "Operator
-- controls").
--
-- `paused_queues`: a queue with a row is paused. `JobStore.claim` claims
-- nothing of it, and every process's pools hand back the jobs they hold but
-- have not started (pools learn of it by NOTIFY, or by a poll of at most 1 s).
-- Running jobs finish; resuming deletes the row and wakes the queue's pools.
--
-- `cron_controls`: a schedule with `enabled = false` enqueues no slot, nor a
-- catch-up. No row means enabled; a row is written only when the state
-- changes, so `updated_at` is when the schedule last changed state.
--
-- `processes.drain_requested_at`: set by an operator; the process's own
-- heartbeat sees it and starts its graceful shutdown (as SIGTERM does).
--
-- `jobs_cron_runs_idx` finds a schedule's newest job (unique key
-- `cron:<name>:...`, slots and manual runs) without scanning its history. Its
-- build scans `jobs` once, holding off writes to it meanwhile.

CREATE TABLE paused_queues (
  queue     text        PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now(),
  paused_by text        NOT NULL
);

CREATE TABLE cron_controls (
  name       text        PRIMARY KEY,
  enabled    boolean     NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text        NOT NULL
);

ALTER TABLE processes
  ADD COLUMN drain_requested_at timestamptz,
  ADD COLUMN drain_requested_by text;

-- Cron names hold no colon (domain/jobs/CronDefinition.ts), so the second field is the name.
CREATE INDEX jobs_cron_runs_idx ON jobs (split_part(unique_key, ':', 2), id DESC) WHERE unique_key LIKE 'cron:%';
