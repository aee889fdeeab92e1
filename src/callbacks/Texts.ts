/**
 * Enqueueing the texts of the callback flow, from the pool of senders: each
 * text is sent from its visitor's number of the pool (domain/callbacks/
 * SmsSenders.ts) and enqueued under that number's rate key, so that no number
 * texts faster than SMS_SENDER_RATE, across every process (the job engine's
 * rate keys, docs/job-engine.md). Enqueues join the caller's transaction.
 */
import * as Effect from "effect/Effect"
import type { CallbackRequest } from "../../domain/callbacks/Business.ts"
import { CallbackSmsFallback, type SmsKind, VerificationSend } from "../../domain/callbacks/Jobs.ts"
import { senderFor, senderRateKey } from "../../domain/callbacks/SmsSenders.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"

/** The sender of texts to `phone`, and the enqueue options that hold them to its pace. */
const senderOf = (phone: string) =>
  Effect.map(TwilioGateway, (gateway) => {
    const from = senderFor(phone, gateway.smsSenders)
    return { from, pacing: { rateKey: senderRateKey(from), rateLimit: gateway.smsPace } }
  })

/** Enqueues the text of the verification code issued at `issuedAt` to `phone`. */
export const enqueueCode = (callbackId: string, phone: string, issuedAt: Date, traceparent: string | undefined) =>
  Effect.flatMap(senderOf(phone), ({ from, pacing }) => enqueue(VerificationSend, { callbackId, from, issuedAt }, { traceparent, ...pacing }))

/** Enqueues a request's circuit notice or fallback text (of its current generation). */
export const enqueueNotice = (request: CallbackRequest, kind: SmsKind) =>
  Effect.flatMap(senderOf(request.phone), ({ from, pacing }) =>
    enqueue(CallbackSmsFallback, { callbackId: request.id, kind, generation: request.generation, from }, { traceparent: request.traceparent, ...pacing })
  )

/**
 * The number a text job sends from: the one it was enqueued with (whose rate key paced it) while that
 * is still in the pool; otherwise (a job enqueued before the pool changed, or before there was one)
 * its visitor's sender in the pool now, since a number that left the pool may no longer be ours.
 */
export const sendingNumber = (enqueuedWith: string | undefined, phone: string) =>
  Effect.map(TwilioGateway, (gateway) =>
    enqueuedWith !== undefined && gateway.smsSenders.includes(enqueuedWith) ? enqueuedWith : senderFor(phone, gateway.smsSenders)
  )
