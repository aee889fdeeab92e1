-- 0016_bulk_callbacks: bulk operations on callback requests as well as jobs
-- (retry or cancel every request the callbacks list's filter matches), carried
-- out by the same `admin.bulk` job (src/jobs/BulkOperations.ts). Not breaking:
-- every existing row is a jobs operation and keeps its values.
--
-- Callback requests have uuid ids, so a callbacks operation walks them in the
-- callbacks list's own order, (created_at, id), which
-- callback_requests_listing_idx serves in both directions:
--
--   up_to_created, up_to_id   the newest request when the operator confirmed:
--                             requests after it are not swept up (NULL: there
--                             was none, the operation matches nothing);
--   after_created, after_id   the last request a committed batch looked at
--                             (NULL: none yet), so an interrupted or retried
--                             run carries on where it stopped.
--
-- A jobs operation keeps using `up_to` and `after` (bigint ids) and leaves the
-- new columns NULL; a callbacks operation leaves `up_to` NULL. Callback
-- requests are never deleted in bulk: their actions are retry and cancel.

ALTER TABLE bulk_operations DROP CONSTRAINT bulk_operations_target_check;
ALTER TABLE bulk_operations ALTER COLUMN up_to DROP NOT NULL;

ALTER TABLE bulk_operations
  ADD COLUMN up_to_created timestamptz,
  ADD COLUMN up_to_id      uuid,
  ADD COLUMN after_created timestamptz,
  ADD COLUMN after_id      uuid;

ALTER TABLE bulk_operations ADD CONSTRAINT bulk_operations_target_check CHECK (
  CASE target
    WHEN 'jobs' THEN up_to IS NOT NULL AND up_to_created IS NULL AND up_to_id IS NULL AND after_created IS NULL AND after_id IS NULL
    WHEN 'callbacks' THEN up_to IS NULL AND action IN ('retry', 'cancel')
                          AND (up_to_created IS NULL) = (up_to_id IS NULL)
                          AND (after_created IS NULL) = (after_id IS NULL)
    ELSE false
  END
);
