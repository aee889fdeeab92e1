/**
 * The webhooks Twilio calls (API.md "Twilio webhooks"). Each needs a valid
 * `X-Twilio-Signature` for its URL under PUBLIC_BASE_URL, checked before the
 * validator: an unsigned request is a 403 and nothing happens. Status reports
 * go through Settlement and Messaging, which apply them only forward and once
 * per `I-Twilio-Idempotency-Token` (a retry is a 204 that changes nothing),
 * so Twilio's retries, duplicates and reordering are harmless. The voice
 * webhook only reads: a retry gets the TwiML of the moment.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { agentTwiml, defaultFlow, goodbyeTwiml } from "../../../domain/callbacks/CallFlow.ts"
import { type Bridge, bridgeFor } from "../../callbacks/Bridge.ts"
import { reportMessage } from "../../callbacks/Messaging.ts"
import { reportCall } from "../../callbacks/Settlement.ts"
import type { WebhookDelivery } from "../../../infra/callbacks/WebhookDeliveries.ts"
import { type AnyRoute, honoPath } from "../Contract.ts"
import { callStatusWebhook, type DeliveryHeaders, messageStatusWebhook, voiceWebhook } from "../contract/Twilio.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement } from "../Validate.ts"

const twiml = (document: string) => new Response(document, { status: 200, headers: { "Content-Type": "text/xml" } })

/** The bridge as TwiML, rendered from the call flow (domain/callbacks/CallFlow.ts): every text from the visitor escaped. */
const bridgeTwiml = (bridge: Bridge): Response =>
  twiml(
    bridge._tag === "Inactive"
      ? goodbyeTwiml("This callback request is no longer active. Goodbye.")
      : agentTwiml(defaultFlow, { name: bridge.name ?? "a visitor", note: bridge.note, visitor: bridge.visitor, callerId: bridge.callerId })
  )

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
    ({ params, body }) => Effect.annotateCurrentSpan("call.sid", body.CallSid ?? "").pipe(Effect.zipRight(bridgeFor(params.attemptId)), Effect.map(bridgeTwiml))
  )

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
