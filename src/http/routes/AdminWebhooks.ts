/**
 * The API of outbound webhooks (docs/webhooks.md): the operators' behind the
 * admin token, and (mounted by BusinessApi.ts) a business's own for its
 * secret key. Each handler is decode (the contract) -> one use case
 * (src/callbacks/WebhookAdmin.ts) -> encode.
 */
import { type Context as HonoContext, Hono } from "hono"
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
  type WebhookEndpointBody,
  WebhookEndpointPage,
  WebhookEndpointView,
  WebhookEndpointWithSecret
} from "../contract/AdminWebhooks.ts"
import type { Route, Wire } from "../Contract.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const view = (endpoint: WebhookEndpoint) => Effect.map(now, (at) => endpointView(endpoint, at))

const withSecret = (status: number) => (made: { readonly endpoint: WebhookEndpoint; readonly secret: string }) =>
  Effect.flatMap(view(made.endpoint), (shown) => reply(WebhookEndpointWithSecret, { ...shown, secret: made.secret }, status))

/** The webhook routes of one audience, with the body, query and path each handler reads. */
export interface WebhookRouteSet<PB> {
  readonly create: Route<PB, unknown, unknown, typeof WebhookEndpointBody.Type>
  readonly list: Route<PB, typeof listWebhookEndpoints.query extends Wire<infer Q> | undefined ? Q : never>
  readonly get: typeof getWebhookEndpoint
  readonly update: typeof updateWebhookEndpoint
  readonly remove: typeof deleteWebhookEndpoint
  readonly rotate: typeof rotateWebhookSecret
  readonly deliveries: typeof listWebhookDeliveries
  readonly replay: typeof replayWebhookDelivery
}

/**
 * Mounts a set of webhook routes: `business` names the business a create or a list is for, and
 * `within` the business whose endpoints the rest may reach (none: every business's).
 */
export const mountWebhookRoutes = <PB>(
  router: Hono<HttpEnv>,
  routes: WebhookRouteSet<PB>,
  business: (params: PB, c: HonoContext<HttpEnv>) => Effect.Effect<string>,
  within: (c: HonoContext<HttpEnv>) => Effect.Effect<string | undefined>
) => {
  implement(router, routes.create, ({ params, body }, c) =>
    Effect.flatMap(business(params, c), (businessId) => Effect.flatMap(Webhooks.create(businessId, body), withSecret(201)))
  )

  implement(router, routes.list, ({ params, query }, c) =>
    Effect.gen(function* () {
      const page = yield* Webhooks.list(yield* business(params, c), query.limit, query.cursor)
      const at = yield* now
      return yield* reply(WebhookEndpointPage, { items: page.items.map((e) => endpointView(e, at)), nextCursor: page.nextCursor })
    })
  )

  implement(router, routes.get, ({ params }, c) =>
    within(c).pipe(
      Effect.flatMap((scope) => Webhooks.find(params.endpointId, scope)),
      Effect.flatMap(view),
      Effect.flatMap((v) => reply(WebhookEndpointView, v))
    )
  )

  implement(router, routes.update, ({ params, body }, c) =>
    within(c).pipe(
      Effect.flatMap((scope) => Webhooks.update(params.endpointId, body, scope)),
      Effect.flatMap(view),
      Effect.flatMap((v) => reply(WebhookEndpointView, v))
    )
  )

  implement(router, routes.remove, ({ params }, c) =>
    Effect.flatMap(within(c), (scope) => Effect.as(Webhooks.remove(params.endpointId, scope), new Response(null, { status: 204 })))
  )

  implement(router, routes.rotate, ({ params }, c) => Effect.flatMap(within(c), (scope) => Effect.flatMap(Webhooks.rotate(params.endpointId, scope), withSecret(200))))

  implement(router, routes.deliveries, ({ params, query }, c) =>
    within(c).pipe(
      Effect.flatMap((scope) => Webhooks.deliveries(params.endpointId, query.limit, query.cursor, scope)),
      Effect.flatMap((page) => reply(WebhookDeliveryPage, page))
    )
  )

  implement(router, routes.replay, ({ params }, c) =>
    within(c).pipe(
      Effect.flatMap((scope) => Webhooks.replay(params.endpointId, params.deliveryId, scope)),
      Effect.flatMap((replayed) => reply(ReplayView, replayed, 202))
    )
  )
}

export const adminWebhookRoutes = () => {
  const router = new Hono<HttpEnv>()
  mountWebhookRoutes(
    router,
    {
      create: createWebhookEndpoint,
      list: listWebhookEndpoints,
      get: getWebhookEndpoint,
      update: updateWebhookEndpoint,
      remove: deleteWebhookEndpoint,
      rotate: rotateWebhookSecret,
      deliveries: listWebhookDeliveries,
      replay: replayWebhookDelivery
    },
    (params) => Effect.succeed(params.businessId),
    () => Effect.succeed(undefined)
  )
  return router
}
