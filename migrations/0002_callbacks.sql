-- 0002_callbacks: businesses, callback requests and everything that happens to them.
--
-- A callback request moves through the states of domain/callbacks/CallbackState.ts;
-- each call placed for it is an attempt row, written before Twilio is asked, whose
-- id rides in the call's StatusCallback URL. Status reports update the attempt
-- under a row lock, and only forward.

CREATE TABLE businesses (
  id                   uuid        PRIMARY KEY,
  name                 text        NOT NULL,
  phone                text        NOT NULL,
  timezone             text        NOT NULL,
  country              text,
  -- {"mon": [["09:00","17:00"]], ...}; NULL: always open
  hours                jsonb,
  -- [{"phone": "+1...", "ringSeconds": 20}, ...]: the backups, in calling order
  escalation           jsonb       NOT NULL DEFAULT '[]'::jsonb,
  ring_seconds         integer     NOT NULL DEFAULT 25 CHECK (ring_seconds BETWEEN 5 AND 600),
  max_concurrent_calls integer     NOT NULL DEFAULT 1 CHECK (max_concurrent_calls BETWEEN 1 AND 1000),
  vip_phones           text[]      NOT NULL DEFAULT '{}',
  sms_fallback         boolean     NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE callback_requests (
  id                 uuid        PRIMARY KEY,
  business_id        uuid        NOT NULL REFERENCES businesses (id),
  phone              text        NOT NULL,
  name               text,
  note               text,
  status             text        NOT NULL CHECK (status IN ('pending_verification', 'queued', 'dialing', 'retry_scheduled',
                                   'escalated', 'connected', 'completed', 'failed', 'cancelled', 'expired')),
  priority           text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'high')),
  -- where the request stands in its plan: the number (0 = the business's own) and the attempt on it
  escalation_level   integer     NOT NULL DEFAULT 0,
  attempt_on_number  integer     NOT NULL DEFAULT 0,
  current_attempt_id uuid,
  next_attempt_at    timestamptz,
  scheduled_for      timestamptz,
  -- bumped by an administrator's retry: the SMS fallback and notices are once per generation
  generation         integer     NOT NULL DEFAULT 0,
  circuit_notice_at  timestamptz,
  -- the trace of the request that created it: every job of the request continues it
  traceparent        text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz
);

-- One active request per (business, phone): a second one is a 409 that names the first.
CREATE UNIQUE INDEX callback_requests_active_idx ON callback_requests (business_id, phone)
  WHERE status NOT IN ('completed', 'failed', 'cancelled', 'expired');
CREATE INDEX callback_requests_listing_idx ON callback_requests (created_at DESC, id DESC);
CREATE INDEX callback_requests_status_idx ON callback_requests (status, updated_at);
CREATE INDEX callback_requests_phone_idx ON callback_requests (phone);

-- The code of a request awaiting verification, only as a hash.
CREATE TABLE verifications (
  callback_id uuid        PRIMARY KEY REFERENCES callback_requests (id) ON DELETE CASCADE,
  code_hash   text,
  issued_at   timestamptz NOT NULL DEFAULT now(),
  checks      integer     NOT NULL DEFAULT 0,
  used_at     timestamptz,
  -- when each code was sent (first and resends), for the send limit
  sends       timestamptz[] NOT NULL DEFAULT '{}'
);

CREATE TABLE call_attempts (
  id                uuid        PRIMARY KEY,
  callback_id       uuid        NOT NULL REFERENCES callback_requests (id) ON DELETE CASCADE,
  n                 integer     NOT NULL,
  level             integer     NOT NULL,
  attempt_on_number integer     NOT NULL,
  to_phone          text        NOT NULL,
  ring_seconds      integer     NOT NULL,
  -- the request's status before this attempt, restored if the call turns out never to have been placed
  from_status       text        NOT NULL,
  -- placing: written, Twilio not yet answered; unknown: the create failed ambiguously;
  -- then Twilio's CallStatus (queued ... completed, busy, no-answer, failed, canceled)
  status            text        NOT NULL DEFAULT 'placing',
  call_sid          text,
  last_sequence     integer     NOT NULL DEFAULT -1,
  answered          boolean     NOT NULL DEFAULT false,
  error             text,
  started_at        timestamptz NOT NULL DEFAULT now(),
  ended_at          timestamptz,
  UNIQUE (callback_id, n)
);
CREATE UNIQUE INDEX call_attempts_sid_idx ON call_attempts (call_sid) WHERE call_sid IS NOT NULL;

-- Messages sent for a request (verification codes, circuit notices, fallbacks).
CREATE TABLE sms_messages (
  id            uuid        PRIMARY KEY,
  callback_id   uuid        REFERENCES callback_requests (id) ON DELETE CASCADE,
  kind          text        NOT NULL CHECK (kind IN ('verification', 'circuit_notice', 'fallback')),
  generation    integer     NOT NULL DEFAULT 0,
  to_phone      text        NOT NULL,
  -- sending: written, Twilio not yet answered; unknown: the create failed ambiguously (never re-sent);
  -- then Twilio's MessageStatus
  status        text        NOT NULL DEFAULT 'sending',
  sid           text,
  last_sequence integer     NOT NULL DEFAULT -1,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- A notice and a fallback are sent at most once per request generation.
CREATE UNIQUE INDEX sms_messages_once_idx ON sms_messages (callback_id, kind, generation) WHERE kind <> 'verification';

-- Idempotency-Key on create: the first response, replayed for 24 hours.
CREATE TABLE idempotency_keys (
  key          text        PRIMARY KEY,
  request_hash text        NOT NULL,
  status       integer     NOT NULL,
  body         jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Sliding-window rate limits: one row per counted event. A limit is checked and
-- recorded in one transaction under an advisory lock on its bucket.
CREATE TABLE rate_events (
  bucket text        NOT NULL,
  at     timestamptz NOT NULL DEFAULT now(),
  -- what the event was for (a call attempt), so it can be taken back if that never happened
  ref    uuid
);
CREATE INDEX rate_events_bucket_idx ON rate_events (bucket, at);
CREATE INDEX rate_events_at_idx ON rate_events (at);

CREATE TABLE daily_reports (
  day        date        PRIMARY KEY,
  summary    jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
