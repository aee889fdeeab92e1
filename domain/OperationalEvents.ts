/**
 * Events of the machinery around the requests (migrations/0008): a job's
 * failed attempt, give-up, cancellation, rescue or operator retry, and a
 * webhook endpoint disabled or enabled. They share the request history's
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
  "webhook.endpoint_enabled"
] as const
export const OperationalEventType = Schema.Literal(...OperationalEventTypes).annotations({ identifier: "OperationalEventType" })
export type OperationalEventType = typeof OperationalEventType.Type

export const OperationalEvent = Schema.Struct({
  id: Schema.UUID,
  type: OperationalEventType,
  subject: Schema.String.annotations({ description: "what it is about: the job's id (`job.*`), the endpoint's id (`webhook.*`)" }),
  businessId: Schema.NullOr(Schema.UUID).annotations({ description: "the business it concerns: a job's callback request's, an endpoint's; null for neither" }),
  position: Schema.String.annotations({ description: "its place in the global order, shared with the request history (`<transaction>.<sequence>`)" }),
  at: Timestamp,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    description: "job events: kind, queue, attempt, maxAttempts, callbackId, error, runAt; webhook events: url, reason"
  })
}).annotations({ identifier: "OperationalEvent", description: "a change of a job or a webhook endpoint" })
export type OperationalEvent = typeof OperationalEvent.Type
