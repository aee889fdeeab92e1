/**
 * The admin API of outbound webhooks (docs/webhooks.md): a business's
 * endpoints, their secrets (shown once, at creation and rotation), the
 * delivery log and replay. Behind the admin token.
 */
import * as Schema from "effect/Schema"
import { HistoryEventType } from "../../../domain/callbacks/History.ts"
import { previousStillSigns, secretHint, WebhookAttempt, type WebhookEndpoint } from "../../../domain/callbacks/Webhooks.ts"
import { Timestamp } from "../../../domain/Timestamp.ts"
import { route } from "../Contract.ts"
import { Limit, Optional, Page, PlainText } from "./Fields.ts"

const MAX_LIMIT = 500

/** An absolute http(s) URL; whether this deployment sends to it (https, public address) is the use case's to say. */
const WebhookUrl = Schema.String.pipe(
  Schema.filter(
    (text) => {
      if (text.length > 2048) return false
      try {
        const url = new URL(text)
        return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
      } catch {
        return false
      }
    },
    { message: () => "must be an absolute http or https URL of at most 2048 characters", jsonSchema: { format: "uri", maxLength: 2048 } }
  )
).annotations({ description: "where events are POSTed; https in production, and never a private address there" })

const EventTypes = Schema.Array(HistoryEventType.annotations({ message: () => ({ message: "must be a callback event type (see CallbackEventType)", override: true }) })).pipe(
  Schema.maxItems(100, { message: () => "must list at most 100 event types" })
).annotations({ description: "the event types sent to it; empty: every type" })

export const WebhookEndpointBody = Schema.Struct({
  url: WebhookUrl,
  eventTypes: Schema.optionalWith(EventTypes, { exact: true, default: () => [] }),
  description: Optional(PlainText(1, 500))
}).annotations({ identifier: "WebhookEndpointBody" })

export const WebhookEndpointPatch = Schema.Struct({
  url: Schema.optionalWith(WebhookUrl, { exact: true }),
  eventTypes: Schema.optionalWith(EventTypes, { exact: true }),
  description: Schema.optional(Schema.NullOr(PlainText(1, 500)).annotations({ description: "null clears it" })),
  enabled: Schema.optional(Schema.Boolean.annotations({ description: "true enables an endpoint that was disabled (its waiting deliveries resume); false disables it" }))
}).annotations({ identifier: "WebhookEndpointPatch" })

const EndpointFields = {
  id: Schema.UUID,
  businessId: Schema.UUID,
  url: Schema.String,
  description: Schema.optional(Schema.String),
  eventTypes: Schema.Array(HistoryEventType).annotations({ description: "the event types sent to it; empty: every type" }),
  enabled: Schema.Boolean,
  disabledAt: Schema.optional(Timestamp),
  disabledReason: Schema.optional(Schema.String.annotations({ description: "why it was disabled (a run of failed deliveries, or an operator)" })),
  secretHint: Schema.String.annotations({ description: "the start of the current secret (the secret itself is shown only when it is made)" }),
  previousSecretUntil: Schema.optional(Timestamp.annotations({ description: "after a rotation: until when the previous secret also signs" })),
  consecutiveFailures: Schema.Int.annotations({ description: "failed attempts since the last delivered one" }),
  failingSince: Schema.optional(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp
}

/** An endpoint as the admin API shows it: never its secrets. */
export const WebhookEndpointView = Schema.Struct(EndpointFields).annotations({ identifier: "WebhookEndpoint" })
export type WebhookEndpointView = typeof WebhookEndpointView.Type

/** An endpoint with its new secret: the answer to a create or a rotation, the only time the secret is shown. */
export const WebhookEndpointWithSecret = Schema.Struct({
  ...EndpointFields,
  secret: Schema.String.annotations({ description: "whsec_<base64>: verify `webhook-signature` with it (Standard Webhooks); shown this once" })
}).annotations({ identifier: "WebhookEndpointWithSecret" })

/** The view of a stored endpoint at `now`. */
export const endpointView = (endpoint: WebhookEndpoint, now: Date): WebhookEndpointView => ({
  id: endpoint.id,
  businessId: endpoint.businessId,
  url: endpoint.url,
  description: endpoint.description,
  eventTypes: endpoint.eventTypes,
  enabled: endpoint.enabled,
  disabledAt: endpoint.disabledAt,
  disabledReason: endpoint.disabledReason,
  secretHint: secretHint(endpoint.secret),
  previousSecretUntil: previousStillSigns(endpoint, now) ? endpoint.previousSecretUntil : undefined,
  consecutiveFailures: endpoint.consecutiveFailures,
  failingSince: endpoint.failingSince,
  createdAt: endpoint.createdAt,
  updatedAt: endpoint.updatedAt
})

export const WebhookEndpointPage = Page(WebhookEndpointView, "WebhookEndpointPage")

export const WebhookDeliveryView = WebhookAttempt.annotations({ identifier: "WebhookDelivery", description: "one attempt to deliver an event" })
export const WebhookDeliveryPage = Page(WebhookDeliveryView, "WebhookDeliveryPage")

export const ReplayView = Schema.Struct({
  eventId: Schema.UUID.annotations({ description: "the event sent again: the same `webhook-id`" }),
  eventType: HistoryEventType,
  jobId: Schema.String.annotations({ description: "the delivery job" })
}).annotations({ identifier: "WebhookReplay" })

const BusinessParams = Schema.Struct({ businessId: Schema.String.annotations({ description: "the business's id (a UUID)" }) })
const EndpointParams = Schema.Struct({ endpointId: Schema.String.annotations({ description: "the endpoint's id (a UUID)" }) })
const DeliveryParams = Schema.Struct({
  ...EndpointParams.fields,
  deliveryId: Schema.String.annotations({ description: "an attempt's id from the delivery log" })
})

const cursorOf = (pattern: RegExp) =>
  Schema.optional(Schema.String.pipe(Schema.pattern(pattern, { message: () => "is not a cursor this API returned" })).annotations({ description: "`nextCursor` of the previous page" }))

const EndpointPageQuery = Schema.Struct({ limit: Limit(50, MAX_LIMIT), cursor: cursorOf(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i) })
export const DeliveryPageQuery = Schema.Struct({ limit: Limit(50, MAX_LIMIT), cursor: cursorOf(/^[1-9]\d{0,17}$/) })

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["webhooks"]

export const createWebhookEndpoint = route({
  method: "post",
  path: "/admin/api/businesses/{businessId}/webhooks",
  operationId: "createWebhookEndpoint",
  summary: "Register a webhook endpoint of a business; its secret is in this answer only.",
  tags,
  security: "admin",
  params: BusinessParams,
  body: { schema: WebhookEndpointBody, excess: "error" },
  responses: { 201: { description: "Created, with its secret", schema: WebhookEndpointWithSecret } },
  problems: ["validation", "malformed-body", "not-found", "payload-too-large", ...admin]
})

export const listWebhookEndpoints = route({
  method: "get",
  path: "/admin/api/businesses/{businessId}/webhooks",
  operationId: "listWebhookEndpoints",
  summary: "A business's webhook endpoints, oldest first.",
  tags,
  security: "admin",
  params: BusinessParams,
  query: EndpointPageQuery,
  responses: { 200: { description: "A page of endpoints", schema: WebhookEndpointPage } },
  problems: ["validation", "not-found", ...admin]
})

export const getWebhookEndpoint = route({
  method: "get",
  path: "/admin/api/webhooks/{endpointId}",
  operationId: "getWebhookEndpoint",
  summary: "One webhook endpoint.",
  tags,
  security: "admin",
  params: EndpointParams,
  responses: { 200: { description: "The endpoint", schema: WebhookEndpointView } },
  problems: ["not-found", ...admin]
})

export const updateWebhookEndpoint = route({
  method: "patch",
  path: "/admin/api/webhooks/{endpointId}",
  operationId: "updateWebhookEndpoint",
  summary: "Change a webhook endpoint's URL, event types or description, or enable it again.",
  tags,
  security: "admin",
  params: EndpointParams,
  body: { schema: WebhookEndpointPatch, excess: "error" },
  responses: { 200: { description: "The endpoint", schema: WebhookEndpointView } },
  problems: ["validation", "malformed-body", "not-found", "payload-too-large", ...admin]
})

export const deleteWebhookEndpoint = route({
  method: "delete",
  path: "/admin/api/webhooks/{endpointId}",
  operationId: "deleteWebhookEndpoint",
  summary: "Delete a webhook endpoint, its pending deliveries and its delivery log.",
  tags,
  security: "admin",
  params: EndpointParams,
  responses: { 204: { description: "Deleted" } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const rotateWebhookSecret = route({
  method: "post",
  path: "/admin/api/webhooks/{endpointId}/rotate-secret",
  operationId: "rotateWebhookSecret",
  summary: "A new signing secret; the old one keeps signing alongside it for WEBHOOK_SECRET_OVERLAP.",
  tags,
  security: "admin",
  params: EndpointParams,
  responses: { 200: { description: "The endpoint with its new secret", schema: WebhookEndpointWithSecret } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const listWebhookDeliveries = route({
  method: "get",
  path: "/admin/api/webhooks/{endpointId}/deliveries",
  operationId: "listWebhookDeliveries",
  summary: "The endpoint's delivery log: every attempt, newest first.",
  tags,
  security: "admin",
  params: EndpointParams,
  query: DeliveryPageQuery,
  responses: { 200: { description: "A page of attempts", schema: WebhookDeliveryPage } },
  problems: ["validation", "not-found", ...admin]
})

export const replayWebhookDelivery = route({
  method: "post",
  path: "/admin/api/webhooks/{endpointId}/deliveries/{deliveryId}/replay",
  operationId: "replayWebhookDelivery",
  summary: "Send that attempt's event to the endpoint again (same webhook-id).",
  tags,
  security: "admin",
  params: DeliveryParams,
  responses: { 202: { description: "Enqueued", schema: ReplayView } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const adminWebhookRoutesContract = [
  createWebhookEndpoint,
  listWebhookEndpoints,
  getWebhookEndpoint,
  updateWebhookEndpoint,
  deleteWebhookEndpoint,
  rotateWebhookSecret,
  listWebhookDeliveries,
  replayWebhookDelivery
]
