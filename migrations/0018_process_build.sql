-- 0018_process_build: what each live process runs (its package version, source
-- revision and runtime), written when it registers, so an operator can tell a
-- rollout's old processes from its new ones on the workers page. Rows of
-- processes registered before this migration have none.

ALTER TABLE processes
  ADD COLUMN version  text,
  ADD COLUMN revision text,
  ADD COLUMN runtime  text;
