/**
 * Business keys: issued, listed and revoked by operators (behind the admin
 * token), and the public view of the business a key names.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { BusinessKey } from "../../../domain/callbacks/Keys.ts"
import * as BotChecks from "../../callbacks/BotChecks.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Keys from "../../callbacks/Keys.ts"
import { businessFor } from "../Access.ts"
import { getPublicBusiness, IssuedKey, issueKey, KeyList, listKeys, PublicBusiness, revokeKey } from "../contract/Keys.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

export const adminKeyRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, issueKey, ({ params, body }) => Effect.flatMap(Keys.issue(params.id, body.kind, body.label), (key) => reply(IssuedKey, key, 201)))
  implement(router, listKeys, ({ params }) => Effect.flatMap(Keys.list(params.id), (items) => reply(KeyList, { items })))
  implement(router, revokeKey, ({ params, body }) => Effect.flatMap(Keys.revoke(params.id, body.afterSeconds), (key) => reply(BusinessKey, key)))
  return router
}

export const publicKeyRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, getPublicBusiness, (_, c) =>
    Effect.gen(function* () {
      const who = c.get("principal")
      // the admin token names no business here
      const business = yield* Businesses.find(who?.kind === "admin" ? "" : yield* businessFor(who, undefined))
      const botCheck = yield* BotChecks.publicOf(business.id)
      return yield* reply(PublicBusiness, { name: business.name, country: business.country, timezone: business.timezone, botCheck: Option.getOrUndefined(botCheck) })
    })
  )
  return router
}
