/**
 * The visitor-facing API (API.md "Public"): create a callback request, verify
 * the phone with the texted code, ask for a new code, and follow the request.
 * Each handler is decode (the contract's schemas, Validate.ts) -> one use case
 * (src/callbacks/Requests.ts) -> encode (the response's schema).
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { PendingCallback } from "../../../domain/callbacks/Verification.ts"
import * as Requests from "../../callbacks/Requests.ts"
import { CallbackEvents, CallbackView, createCallback, getCallback, listCallbackEvents, resendCode, VerifiedCallback, verifyCallback } from "../contract/Callbacks.ts"
import { businessFor } from "../Access.ts"
import { clientOf } from "../ClientAddress.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

export const callbackRoutes = () => {
  const router = new Hono<HttpEnv>()

  implement(router, createCallback, ({ body, headers }, c) =>
    Effect.gen(function* () {
      const who = c.get("principal")
      const businessId = yield* businessFor(who, body.businessId)
      const { botToken, ...fields } = body
      const created = yield* Requests.create({
        ...fields,
        businessId,
        idempotencyKey: headers["Idempotency-Key"],
        clientIp: yield* clientOf(c),
        // a publishable key is a web page's: its creates pass the business's bot check; a server's (sk_, admin) do not
        botCheck: who?.kind === "publishable" ? { token: botToken } : undefined
      })
      return yield* reply(PendingCallback, created.pending, 202, created.replayed ? { "Idempotent-Replayed": "true" } : {})
    })
  )

  implement(router, verifyCallback, ({ params, body }, c) =>
    Effect.flatMap(clientOf(c), (ip) => Requests.verify(params.id, body.code, ip)).pipe(Effect.flatMap((verified) => reply(VerifiedCallback, verified)))
  )

  implement(router, resendCode, ({ params }, c) =>
    Effect.flatMap(clientOf(c), (ip) => Requests.resend(params.id, ip)).pipe(Effect.flatMap((pending) => reply(PendingCallback, pending, 202)))
  )

  implement(router, getCallback, ({ params }) => Effect.flatMap(Requests.show(params.id), (request) => reply(CallbackView, request)))

  implement(router, listCallbackEvents, ({ params, query }) =>
    Effect.flatMap(Requests.history(params.id, query.after ?? 0), (items) => reply(CallbackEvents, { items }))
  )

  return router
}
