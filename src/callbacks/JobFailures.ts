/** How the callback jobs' failures reach the job engine. */
import * as Effect from "effect/Effect"
import { type JobFailure, Permanent, Retryable } from "../../domain/jobs/JobErrors.ts"

const isJobFailure = (error: { readonly _tag: string }): error is JobFailure =>
  error._tag === "Retryable" || error._tag === "Permanent" || error._tag === "Snooze"

/**
 * Job failures pass through; a job that cannot be enqueued (a programming error) is permanent;
 * anything else (the database did not answer, a transaction failed) is retried.
 */
export const asJobFailure = <A, E extends { readonly _tag: string; readonly message: string }, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, JobFailure, R> =>
  Effect.mapError(effect, (error): JobFailure =>
    isJobFailure(error)
      ? error
      : error._tag === "InvalidJob"
        ? new Permanent({ message: error.message, cause: error })
        : new Retryable({ message: error.message, cause: error })
  )
