/**
 * The callback platform's entities as Effect Schemas: a business, a callback
 * request, a call attempt and a text message. Each is described once here;
 * rows decode through these schemas (infra/callbacks/Rows.ts), the HTTP views
 * are their encoded side (src/http/contract/), and the OpenAPI document is
 * generated from them. Types are the schemas' decoded side: dates are `Date`,
 * absent values `undefined`.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { CallbackStatus } from "./CallbackState.ts"
import { parseHours, Weekdays } from "./OpeningHours.ts"
import { Timestamp } from "../Timestamp.ts"
import { Origin } from "./Keys.ts"

export { Timestamp }

/** A phone number in E.164: `+` and 7 to 15 digits, no leading zero. */
export const E164 = Schema.String.pipe(
  Schema.pattern(/^\+[1-9]\d{6,14}$/, { message: () => "must be a phone number in E.164 (+<country code><number>)" })
).annotations({ identifier: "E164", description: "a phone number in E.164, such as +14155550100" })


/** How long a number rings before the attempt counts as unanswered. */
export const RingSeconds = Schema.Int.pipe(Schema.between(5, 120, { message: () => "must be an integer from 5 to 120" })).annotations({ identifier: "RingSeconds" })

/** One number of the escalation chain. */
export const PlanStep = Schema.Struct({ phone: E164, ringSeconds: RingSeconds }).annotations({ identifier: "PlanStep" })
export type PlanStep = typeof PlanStep.Type

const LocalTime = Schema.String.annotations({ description: "HH:MM, 24-hour local wall time; 24:00 closes at midnight" })
const Intervals = Schema.Array(Schema.Tuple(LocalTime, LocalTime))

/**
 * Opening hours as given: per weekday, intervals `[open, close)` of local wall
 * time; days left out are closed. The rules (times, order, overlap) are
 * `parseHours`', reported at their own paths.
 */
export const Hours = Schema.Struct(
  Object.fromEntries(Weekdays.map((day) => [day, Schema.optional(Intervals)])) as { readonly [D in (typeof Weekdays)[number]]: Schema.optional<typeof Intervals> }
).pipe(
  Schema.filter((hours) =>
    Either.match(parseHours(hours), {
      onLeft: (errors) => errors.map((e) => ({ path: e.path.split(".").slice(1).map((k) => (/^\d+$/.test(k) ? Number(k) : k)), message: e.message })),
      onRight: (parsed) => (Object.values(parsed).every((day) => day.length === 0) ? "must open at least once a week (leave hours out for always open)" : undefined)
    })
  )
).annotations({ identifier: "Hours", description: "per weekday (mon..sun), intervals of local wall time [open, close); absent: always open" })
export type Hours = typeof Hours.Type

export const Business = Schema.Struct({
  id: Schema.UUID,
  name: Schema.String,
  /** The first number called. */
  phone: E164,
  timezone: Schema.String.annotations({ description: "IANA time zone the opening hours are read in" }),
  country: Schema.optional(Schema.String.annotations({ description: "ISO 3166 alpha-2; local visitor numbers are read in it" })),
  hours: Schema.optional(Hours),
  /** Backup numbers, called in order once the business's own number is exhausted. */
  escalation: Schema.Array(PlanStep),
  /** Called instead, in order, for a request verified while the business is closed (empty: it waits for the opening). */
  afterHours: Schema.Array(PlanStep),
  ringSeconds: RingSeconds,
  maxConcurrentCalls: Schema.Int,
  /** Visitors whose requests run at high priority. */
  vipPhones: Schema.Array(E164),
  /** Whether a visitor whose callback finally failed gets one SMS saying so. */
  smsFallback: Schema.Boolean,
  /** The origins whose pages may call the public API for this business (CORS). */
  allowedOrigins: Schema.Array(Origin),
  createdAt: Timestamp,
  updatedAt: Timestamp
}).annotations({ identifier: "Business" })
export type Business = typeof Business.Type

/** What a business is made of, as an operator writes it (phones already in E.164). */
export const BusinessInput = Business.omit("id", "createdAt", "updatedAt")
export type BusinessInput = typeof BusinessInput.Type

export const CallbackPriority = Schema.Literal("normal", "high")
export type CallbackPriority = typeof CallbackPriority.Type

export const priorityFor = (business: Pick<Business, "vipPhones">, phone: string): CallbackPriority =>
  business.vipPhones.includes(phone) ? "high" : "normal"

export const CallbackRequest = Schema.Struct({
  id: Schema.UUID,
  businessId: Schema.UUID,
  /** The visitor's number. */
  phone: E164,
  name: Schema.optional(Schema.String),
  note: Schema.optional(Schema.String),
  status: CallbackStatus,
  priority: CallbackPriority,
  /** The department it is with (`main`: the business's own; domain/callbacks/Department.ts). */
  department: Schema.String,
  /** How many times it was moved between departments (bounded by MAX_ROUTES). */
  routes: Schema.Int,
  /** Whether it is called on its department's after-hours chain (verified or moved while the department was closed). */
  afterHours: Schema.Boolean,
  /** The number of its department's plan being called: 0 is the department's own, 1.. its escalation chain. */
  escalationLevel: Schema.Int,
  /** Attempts made on that number so far. */
  attemptOnNumber: Schema.Int,
  currentAttemptId: Schema.optional(Schema.UUID),
  nextAttemptAt: Schema.optional(Timestamp),
  scheduledFor: Schema.optional(Timestamp),
  /** The window the visitor asked to be called in, if any: the first call falls inside it, while open. */
  window: Schema.optional(Schema.Struct({ start: Timestamp, end: Timestamp })),
  /** Bumped by an administrator's retry; one SMS fallback and one notice per generation. */
  generation: Schema.Int,
  /** The W3C trace parent of the request that created it; its jobs continue that trace. */
  traceparent: Schema.optional(Schema.String),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: Schema.optional(Timestamp)
}).annotations({ identifier: "CallbackRequest" })
export type CallbackRequest = typeof CallbackRequest.Type

/** `placing` (row written, Twilio not asked yet), `unknown` (an ambiguous create), or Twilio's CallStatus. */
export const AttemptStatus = Schema.Literal("placing", "unknown", "queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled")
export type AttemptStatus = typeof AttemptStatus.Type

export const CallAttempt = Schema.Struct({
  id: Schema.UUID,
  callbackId: Schema.UUID,
  /** 1-based, over the whole request. */
  n: Schema.Int,
  level: Schema.Int,
  attemptOnNumber: Schema.Int,
  to: E164,
  ringSeconds: Schema.Int,
  status: AttemptStatus,
  callSid: Schema.optional(Schema.String),
  lastSequence: Schema.Int,
  answered: Schema.Boolean,
  error: Schema.optional(Schema.String),
  startedAt: Timestamp,
  endedAt: Schema.optional(Timestamp)
}).annotations({ identifier: "CallAttempt" })
export type CallAttempt = typeof CallAttempt.Type

export const SmsKind = Schema.Literal("verification", "circuit_notice", "fallback")
/** `sending` (row written), `unknown` (an ambiguous send), `not_sent`, or Twilio's MessageStatus. */
export const SmsStatus = Schema.Literal("sending", "unknown", "not_sent", "accepted", "queued", "sent", "delivered", "undelivered", "failed", "receiving", "received", "read", "canceled", "scheduled")

export const SmsMessage = Schema.Struct({
  id: Schema.UUID,
  callbackId: Schema.UUID,
  kind: SmsKind,
  generation: Schema.Int,
  to: E164,
  sid: Schema.optional(Schema.String),
  status: SmsStatus,
  error: Schema.optional(Schema.String),
  createdAt: Timestamp,
  updatedAt: Timestamp
}).annotations({ identifier: "SmsMessage" })
export type SmsMessage = typeof SmsMessage.Type
