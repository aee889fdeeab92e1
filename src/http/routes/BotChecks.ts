/** A business's bot check, behind the admin token (src/callbacks/BotChecks.ts). */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { BotCheckView } from "../../../domain/callbacks/BotCheck.ts"
import * as BotChecks from "../../callbacks/BotChecks.ts"
import { getBotCheck, removeBotCheck, setBotCheck } from "../contract/BotChecks.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

export const adminBotCheckRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, setBotCheck, ({ params, body }) => Effect.flatMap(BotChecks.set(params.id, body), (view) => reply(BotCheckView, view)))
  implement(router, getBotCheck, ({ params }) => Effect.flatMap(BotChecks.show(params.id), (view) => reply(BotCheckView, view)))
  implement(router, removeBotCheck, ({ params }) => Effect.as(BotChecks.remove(params.id), new Response(null, { status: 204 })))
  return router
}
