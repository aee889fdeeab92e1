-- 0017_console_indexes: indexes for the operator console's charts
-- (infra/console/ConsoleStats.ts, docs/console.md).
--
-- `call_attempts_first_started_idx`: the overview's wait from verification to
-- the first call reads the first attempts (n = 1) started in the last 7 days,
-- by start time. Without it that read is a scan of every attempt ever made.
-- Each attempt row is written once with its start and never moves in it.
--
-- `callback_events_verified_idx`: for each of those calls, the request's
-- `callback.verified` event (when it was verified, and when its call was
-- due), read from the index alone (it carries both; the table is append-only,
-- so its pages are all-visible once vacuumed). One small entry per verified
-- request. Measured with 10,000 first calls in the week: 75 ms for the
-- overview's three windows, against 210 ms through (callback_id, seq).
--
-- `jobs_finished_idx`: the queues page counts the jobs each queue finished per
-- minute over the last hour, by `finished_at`. Without it that is a scan of
-- the whole jobs table (finished jobs stay for JOB_RETENTION, 7 days by
-- default). It costs one index entry when a job finishes; that update changes
-- `state`, which other indexes' predicates name, so it was never a HOT update.
--
-- Each build scans their table once and hold off writes to it meanwhile (the
-- migrator runs in one transaction, where CREATE INDEX CONCURRENTLY cannot).

CREATE INDEX call_attempts_first_started_idx ON call_attempts (started_at) WHERE n = 1;
CREATE INDEX callback_events_verified_idx ON callback_events (callback_id) INCLUDE (at, data) WHERE type = 'callback.verified';
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
