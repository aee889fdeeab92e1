-- 0010_business_keys: the keys a business's pages and systems call with, and
-- the origins its pages may call from.
--
-- A publishable key (`pk_...`) is safe in a web page: it names the business
-- and may only create and follow callbacks. A secret key (`sk_...`) is for the
-- business's servers. A key is 32 random bytes, shown once at creation; only
-- its SHA-256 is kept (`hash`), with its first characters (`prefix`) to tell
-- keys apart in lists. Revoking sets `revoked_at`, now or later (a rotation's
-- overlap); a key is valid while `revoked_at` is NULL or in the future. Every
-- request looks its key up here, so a revocation holds in every process at once.
--
-- `allowed_origins`: the exact origins (`https://shop.example`) whose pages
-- may call the public API for the business (CORS); empty: none.

CREATE TABLE business_keys (
  id          uuid        PRIMARY KEY,
  business_id uuid        NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
  kind        text        NOT NULL CHECK (kind IN ('publishable', 'secret')),
  prefix      text        NOT NULL,
  hash        text        NOT NULL UNIQUE,
  label       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX business_keys_business_idx ON business_keys (business_id, created_at);

ALTER TABLE businesses ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}';
