/**
 * The admin API of outbound webhooks (docs/webhooks.md), behind the admin
 * token. Each handler is decode (the contract) -> one use case
 * (src/callbacks/WebhookAdmin.ts) -> encode.
 */
import { Hono } from "hono"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { WebhookEndpoint } from "../../../domain/callbacks/Webhooks.ts"
import * as Webhooks from "../../callbacks/WebhookAdmin.ts"
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  endpointView,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  ReplayView,
  replayWebhookDelivery,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  WebhookDeliveryPage,
  WebhookEndpointPage,
  WebhookEndpointView,
  WebhookEndpointWithSecret
} from "../contract/AdminWebhooks.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const view = (endpoint: WebhookEndpoint) => Effect.map(now, (at) => endpointView(endpoint, at))

const withSecret = (status: number) => (made: { readonly endpoint: WebhookEndpoint; readonly secret: string }) =>
  Effect.flatMap(view(made.endpoint), (shown) => reply(WebhookEndpointWithSecret, { ...shown, secret: made.secret }, status))

export const adminWebhookRoutes = () => {
  const router = new Hono<HttpEnv>()

  implement(router, createWebhookEndpoint, ({ params, body }) => Effect.flatMap(Webhooks.create(params.businessId, body), withSecret(201)))

  implement(router, listWebhookEndpoints, ({ params, query }) =>
    Effect.gen(function* () {
      const page = yield* Webhooks.list(params.businessId, query.limit, query.cursor)
      const at = yield* now
      return yield* reply(WebhookEndpointPage, { items: page.items.map((e) => endpointView(e, at)), nextCursor: page.nextCursor })
    })
  )

  implement(router, getWebhookEndpoint, ({ params }) => Effect.flatMap(Webhooks.find(params.endpointId), (e) => Effect.flatMap(view(e), (v) => reply(WebhookEndpointView, v))))

  implement(router, updateWebhookEndpoint, ({ params, body }) =>
    Effect.flatMap(Webhooks.update(params.endpointId, body), (e) => Effect.flatMap(view(e), (v) => reply(WebhookEndpointView, v)))
  )

  implement(router, deleteWebhookEndpoint, ({ params }) => Effect.as(Webhooks.remove(params.endpointId), new Response(null, { status: 204 })))

  implement(router, rotateWebhookSecret, ({ params }) => Effect.flatMap(Webhooks.rotate(params.endpointId), withSecret(200)))

  implement(router, listWebhookDeliveries, ({ params, query }) =>
    Effect.flatMap(Webhooks.deliveries(params.endpointId, query.limit, query.cursor), (page) => reply(WebhookDeliveryPage, page))
  )

  implement(router, replayWebhookDelivery, ({ params }) => Effect.flatMap(Webhooks.replay(params.endpointId, params.deliveryId), (replayed) => reply(ReplayView, replayed, 202)))

  return router
}
