/**
 * Which of the pool's numbers texts a visitor, and at what pace each number
 * sends. Pure policy: the pool and the rate come from configuration
 * (TWILIO_SMS_SENDERS, SMS_SENDER_RATE), the pacing from the job engine's
 * rate keys.
 *
 * A visitor always hears from one number: the sender is chosen by rendezvous
 * hashing of their phone over the pool (the number whose hash with the phone
 * scores highest), which is stable across processes and restarts, and moves
 * only the visitors of a number that leaves the pool (and about 1/n of the
 * rest when one is added), where `hash mod n` would move almost everyone.
 */
import * as Duration from "effect/Duration"
import type { JobRateLimit } from "../jobs/JobDefinition.ts"

/** 32-bit FNV-1a over the UTF-16 code units of `text` (numbers are ASCII), with a final avalanche. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  // FNV's low bits mix poorly for inputs that differ only at the end: finish with murmur3's fmix32
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The number of `senders` (not empty) that texts `phone`: the same for the same phone and pool. */
export const senderFor = (phone: string, senders: ReadonlyArray<string>): string => {
  let best = senders[0]
  let bestScore = -1
  for (const sender of senders) {
    const score = hash(`${sender}|${phone}`)
    if (score > bestScore || (score === bestScore && best !== undefined && sender < best)) {
      best = sender
      bestScore = score
    }
  }
  if (best === undefined) throw new Error("senderFor: the pool of senders is empty")
  return best
}

/** The job engine's rate key of a sender: every text from the number is enqueued under it. */
export const senderRateKey = (sender: string): string => `sms-sender:${sender}`

/** Rates a sender may be given, in texts per second: one per 1,000 seconds to 1,000 a second. */
export const SenderRateRange = { min: 0.001, max: 1_000 } as const

/**
 * A sender's pace as a job rate: SMS_SENDER_RATE texts per second, as `count` per `per` with a whole
 * count (2 -> 2 per second, 0.5 -> 1 per 2 seconds, 2.5 -> 2 per 0.8 seconds). The rate key holds each
 * text's job from its start until `per` after it ends, and the text reaches Twilio in between: so no
 * window of `per` at Twilio holds more than `count` texts from the number, whatever the time a job
 * takes to get to Twilio.
 */
export const senderPace = (perSecond: number): JobRateLimit => {
  const count = Math.max(1, Math.floor(perSecond))
  return { count, per: Duration.millis((count / perSecond) * 1_000) }
}
