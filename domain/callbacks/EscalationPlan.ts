/**
 * Who is called, in what order, and what happens when nobody answers.
 *
 * The plan is the business's own phone (level 0) followed by its escalation
 * chain (levels 1..n), each ringing for its `ringSeconds`. An unanswered
 * attempt (busy, no answer, failed) is retried on the same number after the
 * policy's delay until that number has had `attemptsPerNumber` attempts; then
 * the request escalates to the next level, whose attempts start again at 1;
 * after the last level it fails (and the visitor gets one SMS fallback).
 */
import * as Duration from "effect/Duration"

export interface PlanStep {
  readonly phone: string
  readonly ringSeconds: number
}

export interface CallbackRetryPolicy {
  readonly attemptsPerNumber: number
  /** The wait after the n-th unanswered attempt on a number is `delays[n - 1]` (the last one repeats). */
  readonly delays: ReadonlyArray<Duration.Duration>
}

export const defaultRetryPolicy: CallbackRetryPolicy = {
  attemptsPerNumber: 3,
  delays: [Duration.minutes(1), Duration.minutes(5), Duration.minutes(15)]
}

/** Ring time for the business's own number when the business does not set one. */
export const DEFAULT_RING_SECONDS = 25

/** Every number in calling order: the business's phone first, then its escalation chain. */
export const planOf = (business: {
  readonly phone: string
  readonly ringSeconds?: number | undefined
  readonly escalation: ReadonlyArray<PlanStep>
}): ReadonlyArray<PlanStep> => [
  { phone: business.phone, ringSeconds: business.ringSeconds ?? DEFAULT_RING_SECONDS },
  ...business.escalation
]

/** Where a request stands in its plan: which number, and which attempt on it (1-based). */
export interface Position {
  readonly level: number
  readonly attemptOnNumber: number
}

export const firstPosition: Position = { level: 0, attemptOnNumber: 1 }

export type NextStep =
  | { readonly _tag: "Retry"; readonly position: Position; readonly after: Duration.Duration }
  | { readonly _tag: "Escalate"; readonly position: Position }
  | { readonly _tag: "GiveUp" }

const delayAfter = (policy: CallbackRetryPolicy, attempt: number): Duration.Duration =>
  policy.delays[Math.min(attempt, policy.delays.length) - 1] ?? Duration.zero

/** What follows an unanswered attempt at `position` in a plan of `levels` numbers. */
export const afterUnanswered = (position: Position, levels: number, policy: CallbackRetryPolicy = defaultRetryPolicy): NextStep => {
  if (position.attemptOnNumber < policy.attemptsPerNumber) {
    return {
      _tag: "Retry",
      position: { level: position.level, attemptOnNumber: position.attemptOnNumber + 1 },
      after: delayAfter(policy, position.attemptOnNumber)
    }
  }
  if (position.level + 1 < levels) return { _tag: "Escalate", position: { level: position.level + 1, attemptOnNumber: 1 } }
  return { _tag: "GiveUp" }
}

/** How many attempts a plan of `levels` numbers makes at most before it gives up. */
export const maxAttempts = (levels: number, policy: CallbackRetryPolicy = defaultRetryPolicy): number => levels * policy.attemptsPerNumber
