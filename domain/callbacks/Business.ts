/**
 * A business that takes callback requests, and a callback request as stored.
 * Plain data: validation of what clients send lives at the HTTP edge, phone
 * normalisation in infra/phone.
 */
import type { CallbackStatus } from "./CallbackState.ts"
import type { PlanStep } from "./EscalationPlan.ts"

export interface Business {
  readonly id: string
  readonly name: string
  /** E.164; the first number called. */
  readonly phone: string
  /** IANA time zone the opening hours are read in. */
  readonly timezone: string
  /** ISO 3166 alpha-2 country local visitor numbers are read in. */
  readonly country: string | undefined
  /** Opening hours as given (`{ "mon": [["09:00", "17:00"]] }`); undefined: always open. */
  readonly hours: Readonly<Record<string, ReadonlyArray<readonly [string, string]>>> | undefined
  /** Backup numbers, called in order once the business's own number is exhausted. */
  readonly escalation: ReadonlyArray<PlanStep>
  /** How long the business's own number rings. */
  readonly ringSeconds: number
  readonly maxConcurrentCalls: number
  /** Visitors whose requests run at high priority. */
  readonly vipPhones: ReadonlyArray<string>
  /** Whether a visitor whose callback finally failed gets one SMS saying so. */
  readonly smsFallback: boolean
  readonly createdAt: Date
  readonly updatedAt: Date
}

export type CallbackPriority = "normal" | "high"

export const priorityFor = (business: Pick<Business, "vipPhones">, phone: string): CallbackPriority =>
  business.vipPhones.includes(phone) ? "high" : "normal"

export interface CallbackRequest {
  readonly id: string
  readonly businessId: string
  /** The visitor's number, E.164. */
  readonly phone: string
  readonly name: string | undefined
  readonly note: string | undefined
  readonly status: CallbackStatus
  readonly priority: CallbackPriority
  /** The number of the plan being called: 0 is the business's own, 1.. its escalation chain. */
  readonly escalationLevel: number
  /** Attempts made on that number so far. */
  readonly attemptOnNumber: number
  readonly currentAttemptId: string | undefined
  readonly nextAttemptAt: Date | undefined
  readonly scheduledFor: Date | undefined
  /** Bumped by an administrator's retry; one SMS fallback and one notice per generation. */
  readonly generation: number
  /** The W3C trace parent of the request that created it; its jobs continue that trace. */
  readonly traceparent: string | undefined
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly finishedAt: Date | undefined
}

export interface CallAttempt {
  readonly id: string
  readonly callbackId: string
  /** 1-based, over the whole request. */
  readonly n: number
  readonly level: number
  readonly attemptOnNumber: number
  readonly to: string
  readonly ringSeconds: number
  /** `placing`, `unknown` (ambiguous create), or Twilio's CallStatus. */
  readonly status: string
  readonly callSid: string | undefined
  readonly lastSequence: number
  readonly answered: boolean
  readonly error: string | undefined
  readonly startedAt: Date
  readonly endedAt: Date | undefined
}
