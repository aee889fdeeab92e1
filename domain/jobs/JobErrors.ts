/**
 * What a job handler may fail with. The engine decides from the tag:
 * `Retryable` retries after backoff (or discards once attempts run out),
 * `Permanent` discards at once, `Snooze` defers without spending an attempt.
 * A defect or a timeout is treated as `Retryable`.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

export class Retryable extends Data.TaggedError("Retryable")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export class Permanent extends Data.TaggedError("Permanent")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Why a job waits, as the metrics group it (`switchboard_job_snoozes_total{reason}`): a rate limit, a spent
 * budget, a concurrency limit or an ordering it must wait its turn in, an open circuit, a time it is not due
 * or not allowed before (a closed business), or anything else.
 */
export type SnoozeKind = "rate_limit" | "budget" | "concurrency" | "circuit" | "schedule" | "other"

export class Snooze extends Data.TaggedError("Snooze")<{
  readonly delay: Duration.Duration
  readonly reason?: string
  readonly kind?: SnoozeKind
}> {
  static for(delay: Duration.DurationInput, reason?: string, kind?: SnoozeKind): Snooze {
    return new Snooze({ delay: Duration.decode(delay), ...(reason === undefined ? {} : { reason }), ...(kind === undefined ? {} : { kind }) })
  }
}

export type JobFailure = Retryable | Permanent | Snooze

/** How an attempt ended, as stored in `jobs.errors`. */
export type AttemptErrorKind = "retryable" | "permanent" | "timeout" | "defect" | "rescued" | "interrupted"

export interface AttemptError {
  readonly attempt: number
  readonly at: string
  readonly kind: AttemptErrorKind
  readonly message: string
  /** The stack of the error the handler failed with, when it carried one. */
  readonly stack?: string
}
