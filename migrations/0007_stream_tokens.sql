-- 0007_stream_tokens: the visitor's key to a request's live stream.
--
-- A create answers a random token once (`streamToken`); only its SHA-256 is
-- kept, so the table never holds a credential. `GET /v1/callbacks/{id}/stream`
-- asks for the token: the request's id alone does not open its stream.
-- Requests created before this migration have none and cannot be streamed.

ALTER TABLE callback_requests ADD COLUMN stream_token_hash text;
