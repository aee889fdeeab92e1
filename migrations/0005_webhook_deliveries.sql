-- 0005_webhook_deliveries: Twilio's webhook deliveries already applied.
--
-- Twilio retries a status callback it thinks failed and marks every try of
-- one logical delivery with the same I-Twilio-Idempotency-Token. A token is
-- recorded in the transaction that applies its report, so a retry finds it and
-- changes nothing, and a report whose transaction rolled back left no token.
-- maintenance.cleanup drops tokens after 24 hours (Twilio stops retrying long
-- before).

CREATE TABLE webhook_deliveries (
  token      text        PRIMARY KEY,
  route      text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);
