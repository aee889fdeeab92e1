-- 0022_departments: a business's departments, its call flows (every version kept), and the
-- department each request is with (domain/callbacks/Department.ts).
--
-- The business itself is its department `main` (its own phone, chain, hours and cap), so a
-- request of before this migration is with `main` and nothing about it changes. Other
-- departments are rows here; a request names its department by key.
--
-- A call flow is saved as a new version, never overwritten: the menu's answer URL names the
-- version the agent heard, so their key is read against that menu even when the flow was
-- changed in between. No row for a department: the default flow (version 0).

CREATE TABLE departments (
  business_id          uuid        NOT NULL REFERENCES businesses (id),
  key                  text        NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9-]{0,39}$' AND key <> 'main'),
  name                 text        NOT NULL,
  phone                text        NOT NULL,
  ring_seconds         integer     NOT NULL CHECK (ring_seconds BETWEEN 5 AND 120),
  -- [{"phone": "+1...", "ringSeconds": 20}, ...]: the backups, in calling order
  escalation           jsonb       NOT NULL DEFAULT '[]'::jsonb,
  -- NULL: the business's hours
  hours                jsonb,
  max_concurrent_calls integer     NOT NULL CHECK (max_concurrent_calls BETWEEN 1 AND 1000),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, key)
);

CREATE TABLE call_flows (
  business_id uuid        NOT NULL REFERENCES businesses (id),
  -- 'main' or a department's key
  department  text        NOT NULL,
  version     integer     NOT NULL CHECK (version >= 1),
  flow        jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, department, version)
);

ALTER TABLE callback_requests
  ADD COLUMN department text    NOT NULL DEFAULT 'main',
  -- moves between departments so far (bounded: MAX_ROUTES)
  ADD COLUMN routes     integer NOT NULL DEFAULT 0;

-- a department with requests in progress is not removed (the admin API answers 409)
CREATE INDEX callback_requests_department_idx ON callback_requests (business_id, department)
  WHERE department <> 'main' AND status NOT IN ('completed', 'failed', 'cancelled', 'expired');

-- the department a call was placed for (the request may have moved on since)
ALTER TABLE call_attempts ADD COLUMN department text NOT NULL DEFAULT 'main';
