/**
 * The webhooks Twilio calls (API.md "Twilio webhooks"). Each needs a valid
 * `X-Twilio-Signature` for its URL under PUBLIC_BASE_URL, else 403 and
 * nothing happens. Status reports go through Settlement, which applies them
 * only forward and only once, so Twilio's retries, duplicates and reordering
 * are harmless.
 */
import type { Context as HonoContext } from "hono"
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CallbackStore } from "../../../infra/callbacks/CallbackStore.ts"
import { TwilioGateway } from "../../../infra/twilio/TwilioGateway.ts"
import { settle } from "../../callbacks/Settlement.ts"
import { type HttpEnv, run } from "../Handler.ts"
import { Forbidden, MalformedBody, NotFound } from "../Problems.ts"
import { isUuid } from "./Callbacks.ts"

const CALL_SID = /^CA[0-9a-fA-F]{32}$/

const xml = (text: string) => text.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`)

const twiml = (body: string) => new Response(`<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`, { status: 200, headers: { "Content-Type": "text/xml" } })

/** The form parameters of a signed Twilio request; 403 when the signature is missing or wrong. */
const signedForm = (c: HonoContext<HttpEnv>) =>
  Effect.gen(function* () {
    const gateway = yield* TwilioGateway
    const text = yield* Effect.tryPromise({ try: () => c.req.text(), catch: () => new MalformedBody({ detail: "the body could not be read" }) })
    const params: Record<string, string> = {}
    for (const [name, value] of new URLSearchParams(text)) params[name] = value
    const url = new URL(c.req.url)
    const valid = yield* gateway.verifySignature(c.req.header("x-twilio-signature"), url.pathname + url.search, params)
    if (!valid) return yield* new Forbidden({ detail: "missing or invalid X-Twilio-Signature" })
    return params
  })

const idParam = (c: HonoContext<HttpEnv>, name: string) =>
  Effect.suspend(() => {
    const id = c.req.param(name) ?? ""
    return isUuid(id) ? Effect.succeed(id) : Effect.fail(new NotFound({ detail: `no ${name} ${id}` }))
  })

const sequenceOf = (params: Record<string, string>): number | undefined => {
  const n = Number(params.SequenceNumber)
  return params.SequenceNumber !== undefined && Number.isInteger(n) && n >= 0 && n < 2 ** 31 ? n : undefined
}

export const twilioRoutes = () => {
  const router = new Hono<HttpEnv>()

  router.post("/twilio/voice/:attemptId", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const params = yield* signedForm(c)
        const attemptId = yield* idParam(c, "attemptId")
        const store = yield* CallbackStore
        const gateway = yield* TwilioGateway
        const attempt = yield* store.findAttempt(attemptId)
        const request = Option.isNone(attempt) ? Option.none() : yield* store.findRequest(attempt.value.callbackId)
        // only the request's current call, while it is being made, connects the visitor: a call left over
        // from before a cancel (or a cancel and a retry) must not
        const current =
          Option.isSome(request) && request.value.currentAttemptId === attemptId && (request.value.status === "dialing" || request.value.status === "connected")
        if (!current || Option.isNone(request)) {
          return twiml("<Say>This callback request is no longer active. Goodbye.</Say><Hangup/>")
        }
        yield* Effect.annotateCurrentSpan("call.sid", params.CallSid ?? "")
        const who = request.value.name === undefined ? "a visitor" : request.value.name
        const note = request.value.note === undefined ? "" : `<Say>Their note: ${xml(request.value.note)}</Say>`
        return twiml(
          `<Say>Callback request from ${xml(who)}.</Say>${note}<Say>Connecting you now.</Say>` +
            `<Dial callerId="${xml(gateway.from)}"><Number>${xml(request.value.phone)}</Number></Dial>`
        )
      })
    )
  )

  router.post("/twilio/status/call/:attemptId", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const params = yield* signedForm(c)
        const attemptId = yield* idParam(c, "attemptId")
        const status = params.CallStatus ?? ""
        yield* settle(attemptId, {
          status,
          sequence: sequenceOf(params),
          // only what Twilio's formats allow reaches the database
          callSid: params.CallSid !== undefined && CALL_SID.test(params.CallSid) ? params.CallSid : undefined,
          error: params.ErrorCode !== undefined && /^\d{1,10}$/.test(params.ErrorCode) ? `Twilio error ${params.ErrorCode}` : undefined
        })
        return new Response(null, { status: 204 })
      })
    )
  )

  router.post("/twilio/status/sms/:messageId", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const params = yield* signedForm(c)
        const messageId = yield* idParam(c, "messageId")
        const status = params.MessageStatus ?? params.SmsStatus ?? ""
        if (/^[a-z-]{1,20}$/.test(status)) yield* Effect.flatMap(CallbackStore, (store) => store.reportMessage(messageId, status, sequenceOf(params) ?? 0))
        return new Response(null, { status: 204 })
      })
    )
  )

  return router
}
