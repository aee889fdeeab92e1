-- 0015_bulk_operations: an operator's action on every job matching a filter
-- (retry, cancel or delete), carried out by a job of kind `admin.bulk` in
-- bounded batches, each its own short transaction, so a million rows never
-- hold one transaction or one lock for long (src/jobs/BulkOperations.ts).
--
-- `up_to` bounds the set to the jobs that existed when the operator confirmed
-- (ids at most it): jobs enqueued later are not swept up. `after` is how far
-- the batches got (the last id seen), so a run that is interrupted, or a
-- retried one, carries on where it stopped. `matched` is the count the
-- operator confirmed; `changed` how many the batches changed (a job that moved
-- to a state the action does not apply to in between is left as it is).

CREATE TABLE bulk_operations (
  id           uuid        PRIMARY KEY,
  target       text        NOT NULL CHECK (target IN ('jobs')),
  action       text        NOT NULL CHECK (action IN ('retry', 'cancel', 'delete')),
  filter       jsonb       NOT NULL,
  up_to        bigint      NOT NULL,
  after        bigint      NOT NULL DEFAULT 0,
  matched      integer     NOT NULL,
  changed      integer     NOT NULL DEFAULT 0,
  requested_by text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);

CREATE INDEX bulk_operations_created_at ON bulk_operations (created_at DESC);
