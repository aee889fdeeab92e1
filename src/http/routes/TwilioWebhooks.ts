/**
 * The webhooks Twilio calls (API.md "Twilio webhooks"). Each needs a valid
 * `X-Twilio-Signature` for its URL under PUBLIC_BASE_URL, checked before the
 * validator: an unsigned request is a 403 and nothing happens. Status reports
 * go through Settlement, which applies them only forward and only once, so
 * Twilio's retries, duplicates and reordering are harmless.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AttemptStore } from "../../../infra/callbacks/AttemptStore.ts"
import { MessageStore } from "../../../infra/callbacks/MessageStore.ts"
import { RequestStore } from "../../../infra/callbacks/RequestStore.ts"
import { TwilioGateway } from "../../../infra/twilio/TwilioGateway.ts"
import { isUuid } from "../../callbacks/Requests.ts"
import { settle } from "../../callbacks/Settlement.ts"
import { callStatusWebhook, messageStatusWebhook, voiceWebhook } from "../contract/Twilio.ts"
import type { HttpEnv } from "../Handler.ts"
import { twilioSignature } from "../Middleware.ts"
import { NotFound } from "../Problems.ts"
import { implement } from "../Validate.ts"

const xml = (text: string) => text.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`)

const twiml = (body: string) => new Response(`<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`, { status: 200, headers: { "Content-Type": "text/xml" } })

const noContent = () => new Response(null, { status: 204 })

/** The id, or a 404 when it cannot be one of ours. */
const ourId = (what: string, id: string) => (isUuid(id) ? Effect.succeed(id) : Effect.fail(new NotFound({ detail: `no ${what} ${id}` })))

export const twilioRoutes = () => {
  const router = new Hono<HttpEnv>()
  const signed = [twilioSignature()]

  implement(
    router,
    voiceWebhook,
    ({ params, body }) =>
      Effect.gen(function* () {
        const attemptId = yield* ourId("attemptId", params.attemptId)
        const attempts = yield* AttemptStore
        const requests = yield* RequestStore
        const gateway = yield* TwilioGateway
        const attempt = yield* attempts.find(attemptId)
        const request = Option.isNone(attempt) ? Option.none() : yield* requests.find(attempt.value.callbackId)
        // only the request's current call, while it is being made, connects the visitor: a call left over
        // from before a cancel (or a cancel and a retry) must not
        const current =
          Option.isSome(request) && request.value.currentAttemptId === attemptId && (request.value.status === "dialing" || request.value.status === "connected")
        if (!current || Option.isNone(request)) {
          return twiml("<Say>This callback request is no longer active. Goodbye.</Say><Hangup/>")
        }
        yield* Effect.annotateCurrentSpan("call.sid", body.CallSid ?? "")
        const who = request.value.name === undefined ? "a visitor" : request.value.name
        const note = request.value.note === undefined ? "" : `<Say>Their note: ${xml(request.value.note)}</Say>`
        return twiml(
          `<Say>Callback request from ${xml(who)}.</Say>${note}<Say>Connecting you now.</Say>` +
            `<Dial callerId="${xml(gateway.from)}"><Number>${xml(request.value.phone)}</Number></Dial>`
        )
      }),
    signed
  )

  implement(
    router,
    callStatusWebhook,
    ({ params, body }) =>
      Effect.gen(function* () {
        const attemptId = yield* ourId("attemptId", params.attemptId)
        yield* settle(attemptId, {
          status: body.CallStatus ?? "",
          sequence: body.SequenceNumber,
          callSid: body.CallSid,
          error: body.ErrorCode === undefined ? undefined : `Twilio error ${body.ErrorCode}`
        })
        return noContent()
      }),
    signed
  )

  implement(
    router,
    messageStatusWebhook,
    ({ params, body }) =>
      Effect.gen(function* () {
        const messageId = yield* ourId("messageId", params.messageId)
        const status = body.MessageStatus ?? body.SmsStatus
        if (status !== undefined) yield* Effect.flatMap(MessageStore, (messages) => messages.report(messageId, status, body.SequenceNumber ?? 0))
        return noContent()
      }),
    signed
  )

  return router
}
