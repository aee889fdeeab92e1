/**
 * A job as the engine stores it, described once as an Effect Schema: the job
 * store's records are its Type (infra/jobs/JobRecords.ts), and the admin API's
 * job view is its encoded side (src/http/contract/Jobs.ts). Dates are `Date`
 * in the Type and ISO-8601 strings on the wire; a value the row may lack is
 * `null` on both sides, as the admin API has always shown it.
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"
import { JobStates } from "./JobState.ts"

export const JobStateSchema = Schema.Literal(...JobStates).annotations({
  identifier: "JobState",
  description: "scheduled | available | running | retryable (waiting for its next attempt) | completed | discarded (dead) | cancelled"
})

/** How an attempt ended, as `jobs.errors` stores it (domain/jobs/JobErrors.ts `AttemptError`). */
export const AttemptErrorSchema = Schema.Struct({
  attempt: Schema.Int,
  at: Schema.String.annotations({ description: "ISO-8601, when the attempt ended" }),
  kind: Schema.Literal("retryable", "permanent", "timeout", "defect", "rescued", "interrupted"),
  message: Schema.String,
  stack: Schema.optional(Schema.String.annotations({ description: "where the failure was raised: the stack of the error the handler failed with, when it carried one" }))
}).annotations({ identifier: "AttemptError" })

/** A job's id: a positive bigint, kept as its decimal text. */
export const JobId = Schema.String.pipe(Schema.pattern(/^[1-9]\d{0,17}$/, { message: () => "must be a job id (a positive integer)" })).annotations({
  identifier: "JobId",
  description: "a positive integer, as text"
})

export const Job = Schema.Struct({
  id: JobId,
  queue: Schema.String,
  kind: Schema.String,
  /** The arguments as stored: the encoded side of the kind's own schema. */
  args: Schema.Unknown.annotations({ description: "the arguments, as the job kind's schema encodes them" }),
  state: JobStateSchema,
  /** 0 is the most urgent. */
  priority: Schema.Int,
  runAt: Timestamp,
  /** Attempts started so far. */
  attempt: Schema.Int,
  maxAttempts: Schema.Int,
  /** The process running it, while it runs. */
  lockedBy: Schema.NullOr(Schema.String),
  attemptedAt: Schema.NullOr(Timestamp),
  finishedAt: Schema.NullOr(Timestamp),
  errors: Schema.Array(AttemptErrorSchema),
  uniqueKey: Schema.NullOr(Schema.String),
  concurrencyKey: Schema.NullOr(Schema.String),
  concurrencyLimit: Schema.NullOr(Schema.Int),
  /** Due, but held back by its concurrency key's limit. */
  waitingForSlot: Schema.Boolean,
  createdAt: Timestamp,
  /** The W3C traceparent of the trace that enqueued it; its attempts are spans of that trace. */
  traceparent: Schema.NullOr(Schema.String)
}).annotations({ identifier: "JobRecord" })
export type Job = typeof Job.Type
