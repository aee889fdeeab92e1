/**
 * A business's own server API (contract/BusinessApi.ts), for its secret key:
 * the operators' handlers, with the business taken from the key.
 */
import { type Context as HonoContext, Hono } from "hono"
import * as Effect from "effect/Effect"
import {
  createOwnWebhookEndpoint,
  deleteOwnWebhookEndpoint,
  getOwnWebhookEndpoint,
  listOwnCallbacks,
  listOwnWebhookDeliveries,
  listOwnWebhookEndpoints,
  replayOwnWebhookDelivery,
  rotateOwnWebhookSecret,
  updateOwnWebhookEndpoint
} from "../contract/BusinessApi.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement } from "../Validate.ts"
import { callbackPage } from "./AdminCallbacks.ts"
import { mountWebhookRoutes } from "./AdminWebhooks.ts"

/** The business of the request's key (the route's `security: "secret"` let only a secret key through). */
const keyBusiness = (c: HonoContext<HttpEnv>): Effect.Effect<string> => {
  const who = c.get("principal")
  return who === undefined || who.kind === "admin" ? Effect.dieMessage("a secret key's route ran without one") : Effect.succeed(who.businessId)
}

export const businessApiRoutes = () => {
  const router = new Hono<HttpEnv>()

  implement(router, listOwnCallbacks, ({ query }, c) => Effect.flatMap(keyBusiness(c), (businessId) => callbackPage({ ...query, businessId })))

  mountWebhookRoutes(
    router,
    {
      create: createOwnWebhookEndpoint,
      list: listOwnWebhookEndpoints,
      get: getOwnWebhookEndpoint,
      update: updateOwnWebhookEndpoint,
      remove: deleteOwnWebhookEndpoint,
      rotate: rotateOwnWebhookSecret,
      deliveries: listOwnWebhookDeliveries,
      replay: replayOwnWebhookDelivery
    },
    (_, c) => keyBusiness(c),
    keyBusiness
  )
  return router
}
