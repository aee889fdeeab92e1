/**
 * Outbound webhooks (docs/webhooks.md): a business's endpoints, the delivery
 * log, and the pure rules around them: which events an endpoint wants, the
 * envelope a receiver gets, the content a signature covers (Standard
 * Webhooks), when a run of failures disables an endpoint, and when a delivery
 * is given up. Signing and sending are infra's (infra/callbacks/WebhookSigning.ts,
 * infra/http/SafeFetch.ts).
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"
import { HistoryEventType } from "./History.ts"

/** A business's webhook endpoint as stored (secrets included: they are the HMAC keys). */
export const WebhookEndpoint = Schema.Struct({
  id: Schema.UUID,
  businessId: Schema.UUID,
  url: Schema.String,
  description: Schema.optional(Schema.String),
  eventTypes: Schema.Array(HistoryEventType).annotations({ description: "the event types sent to it; empty: every type" }),
  secret: Schema.String,
  previousSecret: Schema.optional(Schema.String),
  previousSecretUntil: Schema.optional(Timestamp),
  enabled: Schema.Boolean,
  disabledAt: Schema.optional(Timestamp),
  disabledReason: Schema.optional(Schema.String),
  consecutiveFailures: Schema.Int,
  failingSince: Schema.optional(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp
})
export type WebhookEndpoint = typeof WebhookEndpoint.Type

/** Where a delivery (one event to one endpoint) stands. */
export const DeliveryState = Schema.Literal("pending", "delivered", "dead").annotations({
  identifier: "WebhookDeliveryState",
  description: "pending: not yet answered 2xx (waiting, or retrying); delivered: answered 2xx; dead: given up"
})
export type DeliveryState = typeof DeliveryState.Type

/** How one attempt ended. */
export const AttemptOutcome = Schema.Literal("delivered", "failed", "refused").annotations({
  identifier: "WebhookAttemptOutcome",
  description: "delivered: 2xx; failed: another status, a network error or a timeout (retried); refused: the destination is not allowed (not retried)"
})
export type AttemptOutcome = typeof AttemptOutcome.Type

/** One attempt of the delivery log. */
export const WebhookAttempt = Schema.Struct({
  id: Schema.String.annotations({ description: "the attempt's id (`deliveryId` of the replay route)" }),
  eventId: Schema.UUID.annotations({ description: "the event's id: the `webhook-id` header" }),
  eventType: HistoryEventType,
  outcome: AttemptOutcome,
  statusCode: Schema.optional(Schema.Int),
  error: Schema.optional(Schema.String.annotations({ description: "the network error, timeout or refusal" })),
  latencyMs: Schema.Int,
  responseExcerpt: Schema.optional(Schema.String.annotations({ description: "the start of the response body, at most 1 KiB" })),
  at: Timestamp,
  deliveryState: DeliveryState
})
export type WebhookAttempt = typeof WebhookAttempt.Type

/** Whether an endpoint that lists `eventTypes` wants an event of `type` (an empty list wants everything). */
export const wants = (eventTypes: ReadonlyArray<string>, type: string): boolean => eventTypes.length === 0 || eventTypes.includes(type)

/** The body of a delivery (Standard Webhooks' suggested envelope): the event as `GET /v1/callbacks/{id}/events` lists it. */
export const envelope = <E extends { readonly type: string; readonly at: string }>(event: E) => ({ type: event.type, timestamp: event.at, data: event })

/** What a signature covers: `<webhook-id>.<webhook-timestamp>.<body>`. */
export const signedContent = (id: string, timestampSeconds: number, body: string): string => `${id}.${timestampSeconds}.${body}`

export const SECRET_PREFIX = "whsec_"

/** The shown part of a secret once it was handed out: its prefix and first characters. */
export const secretHint = (secret: string): string => `${secret.slice(0, SECRET_PREFIX.length + 4)}…`

/** Whether the previous secret still signs at `now`. */
export const previousStillSigns = (endpoint: Pick<WebhookEndpoint, "previousSecret" | "previousSecretUntil">, now: Date): boolean =>
  endpoint.previousSecret !== undefined && endpoint.previousSecretUntil !== undefined && endpoint.previousSecretUntil.getTime() > now.getTime()

/** When a run of consecutive failed attempts disables an endpoint: this many, over at least this long. */
export interface DisablePolicy {
  readonly failures: number
  readonly afterMs: number
}

/** Whether a run of `failures` failed attempts that began at `since` disables the endpoint at `now`. */
export const shouldDisable = (run: { readonly failures: number; readonly since: Date }, now: Date, policy: DisablePolicy): boolean =>
  run.failures >= policy.failures && now.getTime() - run.since.getTime() >= policy.afterMs

/** Why an endpoint was disabled, in the words the API and the operational event give. */
export const disableReason = (run: { readonly failures: number; readonly since: Date }, lastError: string): string =>
  `${run.failures} consecutive failed deliveries since ${run.since.toISOString()}; last: ${lastError}`

/** Whether a delivery whose retry window began at `retryFrom` is past it at `now` (its next failure makes it dead). */
export const windowOver = (retryFrom: Date, now: Date, windowMs: number): boolean => now.getTime() - retryFrom.getTime() >= windowMs

/** The concurrency key of a delivery job (one delivery at a time per endpoint and request); the outbox trigger writes the same. */
export const deliveryKey = (endpointId: string, callbackId: string): string => `webhook:${endpointId}:${callbackId}`
