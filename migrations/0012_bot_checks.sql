-- 0012_bot_checks: a business's optional bot check (Cloudflare Turnstile or
-- hCaptcha) on the creates its web pages send.
--
-- `site_key` is public (the widget renders the challenge with it); `secret` is
-- the provider's secret key, sent to its siteverify endpoint with each token.
-- It must be readable to be sent, so it is stored as given; the admin API
-- never shows it. One row per business at most; no row: no bot check.

CREATE TABLE business_bot_checks (
  business_id uuid        PRIMARY KEY REFERENCES businesses (id) ON DELETE CASCADE,
  provider    text        NOT NULL CHECK (provider IN ('turnstile', 'hcaptcha')),
  site_key    text        NOT NULL,
  secret      text        NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
