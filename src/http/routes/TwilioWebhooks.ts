/**
 * The webhooks Twilio calls (API.md "Twilio webhooks"). Each needs a valid
 * `X-Twilio-Signature` for its URL under PUBLIC_BASE_URL, checked before the
 * validator: an unsigned request is a 403 and nothing happens. Status reports
 * go through Settlement and Messaging, which apply them only forward and once
 * per `I-Twilio-Idempotency-Token` (a retry is a 204 that changes nothing),
 * so Twilio's retries, duplicates and reordering are harmless. The voice and
 * visitor webhooks only read: a retry gets the TwiML of the moment. The
 * gather webhook may move the request to another department; a retry of it
 * finds the call no longer the request's current one and hears goodbye.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { answerTwiml, keyTwiml, visitorGreetingTwiml } from "../../callbacks/Bridge.ts"
import { reportMessage } from "../../callbacks/Messaging.ts"
import { reportCall } from "../../callbacks/Settlement.ts"
import type { WebhookDelivery } from "../../../infra/callbacks/WebhookDeliveries.ts"
import { type AnyRoute, honoPath } from "../Contract.ts"
import { callStatusWebhook, type DeliveryHeaders, gatherWebhook, messageStatusWebhook, visitorWebhook, voiceWebhook } from "../contract/Twilio.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement } from "../Validate.ts"

const twiml = (document: string) => new Response(document, { status: 200, headers: { "Content-Type": "text/xml" } })

const noContent = () => new Response(null, { status: 204 })

/** The delivery a status report belongs to, when Twilio marked it (a retry carries the same token); labelled with the route's pattern. */
const deliveryOf = (route: AnyRoute, headers: typeof DeliveryHeaders.Type): WebhookDelivery | undefined => {
  const token = headers["I-Twilio-Idempotency-Token"]
  return token === undefined ? undefined : { token, route: honoPath(route.path) }
}

export const twilioRoutes = () => {
  const router = new Hono<HttpEnv>()

  implement(
    router,
    voiceWebhook,
    ({ params, body }) => Effect.annotateCurrentSpan("call.sid", body.CallSid ?? "").pipe(Effect.zipRight(answerTwiml(params.attemptId)), Effect.map(twiml))
  )

  implement(router, gatherWebhook, ({ params, query, body }) =>
    Effect.annotateCurrentSpan("call.sid", body.CallSid ?? "").pipe(Effect.zipRight(keyTwiml(params.attemptId, query.v ?? 0, body.Digits ?? "", query.r ?? 0)), Effect.map(twiml))
  )

  implement(router, visitorWebhook, ({ params, query }) => Effect.map(visitorGreetingTwiml(params.attemptId, query.v ?? 0), twiml))

  implement(
    router,
    callStatusWebhook,
    ({ params, headers, body }) =>
      reportCall(
        params.attemptId,
        { status: body.CallStatus ?? "", sequence: body.SequenceNumber, callSid: body.CallSid, errorCode: body.ErrorCode },
        deliveryOf(callStatusWebhook, headers)
      ).pipe(Effect.as(noContent()))
  )

  implement(
    router,
    messageStatusWebhook,
    ({ params, headers, body }) =>
      reportMessage(
        params.messageId,
        { status: body.MessageStatus ?? body.SmsStatus, sequence: body.SequenceNumber, errorCode: body.ErrorCode },
        deliveryOf(messageStatusWebhook, headers)
      ).pipe(Effect.as(noContent()))
  )

  return router
}
