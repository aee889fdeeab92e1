/**
 * The live event streams (contract/Events.ts): the visitor's, opened with the
 * request's stream token, and the operators', behind the admin token. Each is
 * decode -> LiveEvents (src/callbacks/LiveEvents.ts) -> an SSE response.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { HistoryStore, parseCursor, START } from "../../../infra/callbacks/HistoryStore.ts"
import { LiveEvents } from "../../callbacks/LiveEvents.ts"
import { EventLogPage, listEvents, streamCallback, streamEvents } from "../contract/Events.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

/** The token from `?token=` or `Authorization: Bearer`. */
const tokenOf = (query: string | undefined, authorization: string | undefined): string | undefined =>
  query ?? (authorization === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(authorization)?.[1])

export const visitorEventRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, streamCallback, ({ params, query, headers }, c) =>
    Effect.flatMap(LiveEvents, (live) => live.visitor(params.id, tokenOf(query.token, headers.Authorization), headers["Last-Event-ID"] ?? 0, c.req.method === "HEAD"))
  )
  return router
}

/** Mounted behind the admin token. */
export const operatorEventRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, streamEvents, ({ query, headers }, c) =>
    Effect.flatMap(LiveEvents, (live) => {
      const lastEventId = headers["Last-Event-ID"]
      return live.operator(query.businessId, lastEventId === undefined ? undefined : parseCursor(lastEventId), c.req.method === "HEAD")
    })
  )
  implement(router, listEvents, ({ query }) =>
    Effect.gen(function* () {
      const history = yield* HistoryStore
      const items = yield* history.everythingAfter((query.after === undefined ? undefined : parseCursor(query.after)) ?? START, { businessId: query.businessId, limit: query.limit })
      const last = items[items.length - 1]
      return yield* reply(EventLogPage, { items, ...(items.length === query.limit && last !== undefined ? { nextCursor: last.position } : {}) })
    })
  )
  return router
}
