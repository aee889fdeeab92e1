/**
 * The admin API of the callback platform (API.md "Admin"): businesses,
 * callback requests (the failed ones are the dead-letter view) with retry and
 * cancel, and stats. Behind the admin token. Each handler is decode (the
 * contract, Validate.ts) -> one use case (src/callbacks/) -> encode.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { Business } from "../../../domain/callbacks/Business.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Requests from "../../callbacks/Requests.ts"
import { validationFailed } from "../../Failures.ts"
import {
  AdminCallbackPage,
  AdminCallbackDetail,
  AdminCallbackView,
  BusinessPage,
  BusinessBody,
  BusinessView,
  type CallbacksQuery,
  cancelCallback,
  createBusiness,
  getAdminCallback,
  getBusiness,
  getStats,
  listBusinesses,
  listCallbacks,
  retryCallback,
  StatsView,
  updateBusiness
} from "../contract/AdminCallbacks.ts"
import type { HttpEnv } from "../Handler.ts"
import { decodeAll, implement, reply } from "../Validate.ts"

/** The stored business with `patch` laid over it, decoded as a whole: errors point into the patch (the console's settings form is a PATCH too). */
export const merged = (patch: Record<string, unknown>) => (current: Business) => {
  const { id: _id, createdAt: _c, updatedAt: _u, ...stored } = Schema.encodeSync(BusinessView)(current)
  return Either.match(decodeAll(BusinessBody, { ...stored, ...patch }, "body", "error"), { onLeft: (errors) => Effect.fail(validationFailed(errors)), onRight: Effect.succeed })
}

/** A page of callback requests, as an operator (or a business's secret key) sees them. */
export const callbackPage = (query: typeof CallbacksQuery.Type) =>
  Requests.list({ ...query, before: query.cursor }).pipe(Effect.flatMap((page) => reply(AdminCallbackPage, page)))

export const adminCallbackRoutes = () => {
  const router = new Hono<HttpEnv>()

  implement(router, createBusiness, ({ body }) => Effect.flatMap(Businesses.create(body), (business) => reply(BusinessView, business, 201)))

  implement(router, listBusinesses, ({ query }) => Effect.flatMap(Businesses.list(query.limit, query.cursor), (page) => reply(BusinessPage, page)))

  implement(router, getBusiness, ({ params }) => Effect.flatMap(Businesses.find(params.id), (business) => reply(BusinessView, business)))

  implement(router, updateBusiness, ({ params, body }) =>
    Effect.flatMap(Businesses.update(params.id, merged(body)), (business) => reply(BusinessView, business))
  )

  implement(router, listCallbacks, ({ query }) => callbackPage(query))

  implement(router, getAdminCallback, ({ params }) => Effect.flatMap(Requests.showWithHistory(params.id), (request) => reply(AdminCallbackDetail, request)))

  implement(router, retryCallback, ({ params }) => Effect.flatMap(Requests.operatorChange(params.id, "adminRetry"), (request) => reply(AdminCallbackView, request)))

  implement(router, cancelCallback, ({ params }) => Effect.flatMap(Requests.operatorChange(params.id, "cancel"), (request) => reply(AdminCallbackView, request)))

  implement(router, getStats, () => Effect.flatMap(Requests.stats, (stats) => reply(StatsView, stats)))

  return router
}
