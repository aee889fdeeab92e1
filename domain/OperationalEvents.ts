/**
 * Events of the machinery around the requests (migrations/0008): a job's
 * failed attempt, give-up, cancellation, rescue or operator retry, a
 * webhook endpoint disabled or enabled, a budget running out (migrations/0011)
 * and a phone locked after failed verifications. They share the request history's
 * order, so the operators' stream lists both in one sequence.
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "./Timestamp.ts"

export const OperationalEventTypes = [
  "job.failed",
  "job.discarded",
  "job.cancelled",
  "job.rescued",
  "job.retried",
  "webhook.endpoint_disabled",
  "webhook.endpoint_enabled",
  "budget.exhausted",
  "phone.locked"
] as const
export const OperationalEventType = Schema.Literal(...OperationalEventTypes).annotations({ identifier: "OperationalEventType" })
export type OperationalEventType = typeof OperationalEventType.Type

export const OperationalEvent = Schema.Struct({
  id: Schema.UUID,
  type: OperationalEventType,
  subject: Schema.String.annotations({
    description: "what it is about: the job's id (`job.*`), the endpoint's id (`webhook.*`), the business's id or `account` (`budget.*`), the request whose failure locked the phone (`phone.locked`)"
  }),
  businessId: Schema.NullOr(Schema.UUID).annotations({ description: "the business it concerns: a job's callback request's, an endpoint's; null for neither" }),
  position: Schema.String.annotations({ description: "its place in the global order, shared with the request history (`<transaction>.<sequence>`)" }),
  at: Timestamp,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    description:
      "job events: kind, queue, attempt, maxAttempts, callbackId, error, runAt; webhook events: url, reason; budget.exhausted: channel, scope, limit, window, retryAt, during; phone.locked: lockedUntil"
  })
}).annotations({ identifier: "OperationalEvent", description: "a change of a job, a webhook endpoint, a budget or a phone's lockout" })
export type OperationalEvent = typeof OperationalEvent.Type
