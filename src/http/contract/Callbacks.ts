/** The visitor-facing callback API (API.md "Public"): its shapes and routes. */
import * as Schema from "effect/Schema"
import { DepartmentKey } from "../../../domain/callbacks/Department.ts"
import { CallAttempt, CallbackRequest } from "../../../domain/callbacks/Business.ts"
import { CallbackStatus } from "../../../domain/callbacks/CallbackState.ts"
import { HistoryEvent } from "../../../domain/callbacks/History.ts"
import { PendingCallback } from "../../../domain/callbacks/Verification.ts"
import { Timestamp } from "../../../domain/Timestamp.ts"
import { route } from "../Contract.ts"
import { IdParams, Optional, PlainText } from "./Fields.ts"

export const CreateCallbackBody = Schema.Struct({
  businessId: Schema.optional(
    PlainText(1, 100).annotations({ description: "the business to call back: only with a secret key (its own) or the admin token; a publishable key names its business itself" })
  ),
  phone: PlainText(1, 64).annotations({ description: "the visitor's mobile number in any common format; read in the business's country when it has no country code" }),
  name: Optional(PlainText(0, 100)),
  note: Optional(PlainText(0, 500)),
  topic: Schema.optional(
    DepartmentKey.annotations({ description: "the department the visitor wants to talk to (GET /v1/topics lists them); absent or `main`: the business's own" })
  ),
  window: Schema.optional(
    Schema.Struct({
      start: Timestamp.annotations({ description: "from (ISO 8601 with the visitor's offset, such as 2026-12-08T14:00:00-05:00)" }),
      end: Timestamp.annotations({ description: "until (exclusive)" })
    })
      .pipe(Schema.filter((w) => (w.end.getTime() > w.start.getTime() ? undefined : { path: ["end"], message: "must be after start" })))
      .annotations({
        identifier: "CallWindow",
        description:
          "when the visitor wants to be called: the first call falls inside this window while the business (or the topic's department) is open; a window that never meets the opening hours within 14 days is a 422 window-unavailable with the next available windows. Absent: as soon as possible"
      })
  ),
  botToken: Schema.optional(
    Schema.String.pipe(Schema.maxLength(4096)).annotations({
      description: "the token of the business's bot check (Turnstile or hCaptcha), when it has one: needed with a publishable key, good once"
    })
  )
}).annotations({ identifier: "CreateCallback" })

export const IdempotencyHeaders = Schema.Struct({
  "Idempotency-Key": Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[\x21-\x7e]{1,200}$/, { message: () => "must be 1 to 200 visible ASCII characters" })).annotations({
      description: "the same key and body within 24 hours replays the first response; another body with the key is a 422"
    })
  )
})

/** `?key=`: how a web page sends its publishable key (so that a CORS preflight can be answered for its business). */
export const KeyQuery = Schema.Struct({
  key: Schema.optional(Schema.String.annotations({ description: "the business's publishable key (pk_...); or send a key as `Authorization: Bearer`" }))
})

export const VerifyBody = Schema.Struct({
  code: PlainText(0, 100).annotations({ description: "the 6-digit code texted to the visitor; any text counts as an attempt" })
}).annotations({ identifier: "VerifyCode" })

export const VerifiedCallback = Schema.Struct({
  id: Schema.UUID,
  status: CallbackStatus,
  scheduledFor: Timestamp.annotations({ description: "when the first call is due: now, or the business's next opening" })
}).annotations({ identifier: "VerifiedCallback" })

/** One call to the business, as the visitor's page and the operator see it. */
export const AttemptView = CallAttempt.pick("n", "to", "status", "level", "startedAt", "endedAt", "error").annotations({ identifier: "Attempt" })

const publicFields = CallbackRequest.pick(
  "id",
  "businessId",
  "status",
  "priority",
  "escalationLevel",
  "nextAttemptAt",
  "scheduledFor",
  "createdAt",
  "updatedAt",
  "finishedAt"
).fields

/** A callback request as its visitor sees it: no phone, name or note. */
export const CallbackView = Schema.Struct({ ...publicFields, attempts: Schema.Array(AttemptView) }).annotations({ identifier: "Callback" })

/** A request's history, oldest first. */
export const CallbackEvents = Schema.Struct({ items: Schema.Array(HistoryEvent) }).annotations({ identifier: "CallbackEvents" })

export const EventsQuery = Schema.Struct({
  after: Schema.optional(
    Schema.compose(Schema.String.pipe(Schema.pattern(/^\d{1,9}$/, { message: () => "must be a sequence number (0 or more)" })), Schema.NumberFromString).annotations({
      description: "only the events after this `seq` (a client that has seen events 1..n asks for `after=n`)"
    })
  )
})

const tags = ["callbacks"]

export const createCallback = route({
  method: "post",
  path: "/v1/callbacks",
  operationId: "createCallback",
  summary: "Ask a business for a callback; the phone is verified by an SMS code first.",
  description:
    "The business is the key's (a publishable key from a web page, a secret key from the business's server) or, with the admin token, `businessId`. " +
    "From a web page, the page's origin must be one of the business's `allowedOrigins`, and when the business has a bot check, " +
    "a create with a publishable key must carry the challenge's token as `botToken` (verified with the provider before anything is stored or texted).",
  tags,
  security: "key",
  query: KeyQuery,
  headers: IdempotencyHeaders,
  body: { schema: CreateCallbackBody },
  responses: {
    202: { description: "Created; a code is on its way", schema: PendingCallback, headers: { "Idempotent-Replayed": { description: "`true` when this is the replay of an earlier response" } } }
  },
  problems: ["validation", "malformed-body", "unauthorized", "forbidden", "bot-check-failed", "not-found", "conflict", "idempotency-mismatch", "window-unavailable", "payload-too-large", "rate-limited", "unavailable"]
})

export const verifyCallback = route({
  method: "post",
  path: "/v1/callbacks/{id}/verification",
  operationId: "verifyCallback",
  summary: "Enter the texted code.",
  description: "A wrong code is a 400 `wrong-code` with `attemptsRemaining`; an expired or used-up code is a 410.",
  tags,
  params: IdParams,
  body: { schema: VerifyBody },
  responses: { 200: { description: "Verified and queued", schema: VerifiedCallback } },
  problems: ["validation", "wrong-code", "malformed-body", "not-found", "conflict", "gone", "payload-too-large", "rate-limited", "unavailable"]
})

export const resendCode = route({
  method: "post",
  path: "/v1/callbacks/{id}/verification/resend",
  operationId: "resendVerificationCode",
  summary: "Text a new code (the old one stops working).",
  tags,
  params: IdParams,
  responses: { 202: { description: "A new code is on its way", schema: PendingCallback } },
  problems: ["not-found", "conflict", "gone", "payload-too-large", "rate-limited", "unavailable"]
})

export const getCallback = route({
  method: "get",
  path: "/v1/callbacks/{id}",
  operationId: "getCallback",
  summary: "A callback request and its attempts.",
  tags,
  params: IdParams,
  responses: { 200: { description: "The request", schema: CallbackView } },
  problems: ["not-found", "unavailable"]
})

export const listCallbackEvents = route({
  method: "get",
  path: "/v1/callbacks/{id}/events",
  operationId: "listCallbackEvents",
  summary: "A callback request's history: every change, oldest first.",
  description: "Append-only: an event, once listed, is never changed. See docs/events.md for the event types.",
  tags,
  params: IdParams,
  query: EventsQuery,
  responses: { 200: { description: "The request's events", schema: CallbackEvents } },
  problems: ["validation", "not-found", "unavailable"]
})

export const callbackRoutesContract = [createCallback, verifyCallback, resendCode, getCallback, listCallbackEvents]
