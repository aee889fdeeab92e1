-- 0023_after_hours: a chain called while a department is closed (an on-call mobile, say).
--
-- A request verified while its department (the business itself for `main`) is closed is
-- called on the department's after-hours chain at once when it has one, and waits for the
-- opening as before when it has none. `callback_requests.after_hours` records that choice,
-- made when the request is verified or moved to a department: every call of the request
-- follows the same plan. Empty chains (the default) change nothing for existing rows.

ALTER TABLE businesses ADD COLUMN after_hours jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE departments ADD COLUMN after_hours jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE callback_requests ADD COLUMN after_hours boolean NOT NULL DEFAULT false;
