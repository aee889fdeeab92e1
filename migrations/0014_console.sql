-- 0014_console: the operator console's accounts, sessions and audit trail.
--
-- `operators` are named accounts created from the CLI (`switchboard operator
-- add`); the admin token signs in as the operator `admin-token`, which has no
-- row. A password is stored only as its scrypt hash (`scrypt$<log2 N>$<r>$<p>$
-- <salt>$<hash>`, base64url). `role` is `admin` (sees and changes) or `viewer`
-- (sees everything, changes nothing).
--
-- A session is a random 256-bit id held in the operator's cookie (signed);
-- only its SHA-256 is stored here, so a copy of this table signs nobody in.
-- A session ends when it expires, on sign-out, or when its account is removed
-- or its password or role changes.
--
-- `operator_audit` records every operator action, from the console, the admin
-- API and the CLI: who, what, on what, when and from where. Rows are never
-- updated.

CREATE TABLE operators (
  name          text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,62}$'),
  role          text        NOT NULL CHECK (role IN ('admin', 'viewer')),
  password_hash text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE operator_sessions (
  id_hash     text        PRIMARY KEY,
  operator    text        NOT NULL,
  role        text        NOT NULL CHECK (role IN ('admin', 'viewer')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  ip          text,
  user_agent  text
);

CREATE INDEX operator_sessions_operator ON operator_sessions (operator);
CREATE INDEX operator_sessions_expires_at ON operator_sessions (expires_at);

CREATE TABLE operator_audit (
  id          bigserial   PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  operator    text        NOT NULL,
  role        text        CHECK (role IN ('admin', 'viewer')),
  via         text        NOT NULL CHECK (via IN ('console', 'api', 'cli')),
  action      text        NOT NULL,
  target      text,
  outcome     text        NOT NULL DEFAULT 'ok',
  detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
  ip          text,
  user_agent  text
);

CREATE INDEX operator_audit_at ON operator_audit (at DESC, id DESC);
