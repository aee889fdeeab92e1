/** Turns how a handler's attempt ended into what the store records. */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { AttemptError, AttemptErrorKind, JobFailure } from "../domain/jobs/JobErrors.ts"
import { type BackoffPolicy, retryDelayMs } from "../domain/jobs/RetryPolicy.ts"
import type { Outcome } from "../infra/jobs/JobRecords.ts"

export class AttemptTimeout extends Data.TaggedError("AttemptTimeout")<{ readonly after: Duration.Duration }> {}

const MAX_MESSAGE = 2_000

const clip = (text: string): string => (text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text)

export interface AttemptFacts {
  readonly attempt: number
  readonly maxAttempts: number
  readonly backoff: BackoffPolicy
  /** Uniform random number in [0, 1) for the backoff jitter. */
  readonly unit: number
  readonly now: Date
}

/** The stack of a failure's cause, when it is an Error that has one. */
const stackOf = (cause: unknown): string | undefined => (cause instanceof Error && typeof cause.stack === "string" ? cause.stack : undefined)

const errorOf = (facts: AttemptFacts, kind: AttemptErrorKind, message: string, stack?: string): AttemptError => ({
  attempt: facts.attempt,
  at: facts.now.toISOString(),
  kind,
  message: clip(message),
  ...(stack === undefined ? {} : { stack: clip(stack) })
})

const retryOrDiscard = (facts: AttemptFacts, error: AttemptError): Outcome =>
  facts.attempt >= facts.maxAttempts
    ? { _tag: "Discard", error }
    : { _tag: "Retry", delayMs: retryDelayMs(facts.attempt - 1, facts.backoff, facts.unit), error }

const completed: Outcome = { _tag: "Completed" }

/** The longest snooze: as far ahead as a job may be scheduled at all. */
const MAX_SNOOZE_MS = 100 * 365 * 86_400_000

/**
 * A snooze as whole milliseconds within bounds: the outcome is stored as an integer, and one
 * unstorable delay (a fraction of a millisecond, an infinite wait) would fail its whole batch.
 */
export const snoozeMillis = (delay: Duration.Duration): number => {
  const ms = Duration.toMillis(delay)
  return Number.isNaN(ms) ? 0 : Math.min(MAX_SNOOZE_MS, Math.max(0, Math.ceil(ms)))
}

/** The outcome of an attempt; `undefined` when it was interrupted (the caller decides: hand back). */
export const outcomeOf = (exit: Exit.Exit<void, JobFailure | AttemptTimeout>, facts: AttemptFacts): Outcome | undefined => {
  if (Exit.isSuccess(exit)) return completed
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    switch (error._tag) {
      case "Retryable":
        return retryOrDiscard(facts, errorOf(facts, "retryable", error.message, stackOf(error.cause)))
      case "Permanent":
        return { _tag: "Discard", error: errorOf(facts, "permanent", error.message, stackOf(error.cause)) }
      case "Snooze":
        return { _tag: "Snooze", delayMs: snoozeMillis(error.delay), kind: error.kind ?? "other" }
      case "AttemptTimeout":
        return retryOrDiscard(facts, errorOf(facts, "timeout", `timed out after ${Duration.format(error.after)}`))
    }
  }
  if (Cause.isInterruptedOnly(exit.cause)) return undefined
  return retryOrDiscard(facts, errorOf(facts, "defect", Cause.pretty(exit.cause)))
}
