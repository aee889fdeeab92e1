/** The shapes the job store reads and writes. Ids and leases are bigint, kept as strings. */
import type { AttemptError, SnoozeKind } from "../../domain/jobs/JobErrors.ts"
import * as Schema from "effect/Schema"
import { AttemptErrorSchema, Job, JobStateSchema } from "../../domain/jobs/Job.ts"
import type { JobState } from "../../domain/jobs/JobState.ts"

export interface NewJob {
  readonly queue: string
  readonly kind: string
  readonly args: unknown
  readonly priority: number
  readonly maxAttempts: number
  readonly runAt?: Date | undefined
  /** Alternative to runAt: run this long after the database's now(). */
  readonly delayMs?: number | undefined
  readonly uniqueKey?: string | undefined
  readonly concurrencyKey?: string | undefined
  readonly concurrencyLimit?: number | undefined
  /** With rateCount and ratePerMs: at most rateCount starts of the key in any window of ratePerMs. */
  readonly rateKey?: string | undefined
  readonly rateCount?: number | undefined
  readonly ratePerMs?: number | undefined
  readonly traceparent?: string | undefined
}

export interface Inserted {
  readonly id: string
  readonly state: JobState
  /** True when a job with the same unique key already existed and nothing was inserted. */
  readonly duplicate: boolean
}

/** A job as a worker holds it after a claim. */
export interface ClaimedJob {
  readonly id: string
  readonly queue: string
  readonly kind: string
  readonly args: unknown
  readonly priority: number
  readonly attempt: number
  readonly maxAttempts: number
  readonly lease: string
  readonly traceparent: string | null
}

/** A fenced reference to one attempt: writes apply only while the lease still matches. */
export interface AttemptRef {
  readonly id: string
  readonly lease: string
}

/** How an attempt ended. Delays count from the database's clock when the outcome is written. */
export type Outcome =
  | { readonly _tag: "Completed" }
  | { readonly _tag: "Retry"; readonly delayMs: number; readonly error: AttemptError }
  | { readonly _tag: "Discard"; readonly error: AttemptError }
  | { readonly _tag: "Snooze"; readonly delayMs: number; readonly kind?: SnoozeKind | undefined }
  /** Returned unstarted or interrupted at shutdown: back to available, attempt refunded. */
  | { readonly _tag: "HandBack"; readonly error?: AttemptError | undefined }

export interface Finished extends AttemptRef {
  readonly outcome: Outcome
}

/** A job as the store reads it: the Type of the domain's Job schema (domain/jobs/Job.ts). */
export type JobRecord = Job

/** A `jobs` row as `pg` returns it (`SELECT *`): snake_case, bigints as text, `Date` for timestamptz. */
const JobColumns = Schema.Struct({
  id: Schema.String,
  queue: Schema.String,
  kind: Schema.String,
  args: Schema.Unknown,
  state: JobStateSchema,
  priority: Schema.Number,
  run_at: Schema.DateFromSelf,
  attempt: Schema.Number,
  max_attempts: Schema.Number,
  locked_by: Schema.NullOr(Schema.String),
  attempted_at: Schema.NullOr(Schema.DateFromSelf),
  finished_at: Schema.NullOr(Schema.DateFromSelf),
  errors: Schema.Array(Schema.typeSchema(AttemptErrorSchema)),
  unique_key: Schema.NullOr(Schema.String),
  concurrency_key: Schema.NullOr(Schema.String),
  concurrency_limit: Schema.NullOr(Schema.Number),
  waiting_for_slot: Schema.Boolean,
  created_at: Schema.DateFromSelf,
  traceparent: Schema.NullOr(Schema.String)
}).annotations({ identifier: "JobRow" })
export type JobRow = typeof JobColumns.Type

/** A `jobs` row decoded into a {@link JobRecord}: a state outside the domain's union, or a malformed field, fails loudly. */
export const JobFromRow = Schema.transform(JobColumns, Schema.typeSchema(Job), {
  strict: true,
  decode: (row) => ({
    id: row.id,
    queue: row.queue,
    kind: row.kind,
    args: row.args,
    state: row.state,
    priority: row.priority,
    runAt: row.run_at,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    lockedBy: row.locked_by,
    attemptedAt: row.attempted_at,
    finishedAt: row.finished_at,
    errors: row.errors,
    uniqueKey: row.unique_key,
    concurrencyKey: row.concurrency_key,
    concurrencyLimit: row.concurrency_limit,
    waitingForSlot: row.waiting_for_slot,
    createdAt: row.created_at,
    traceparent: row.traceparent
  }),
  encode: (job) => ({
    id: job.id,
    queue: job.queue,
    kind: job.kind,
    args: job.args,
    state: job.state,
    priority: job.priority,
    run_at: job.runAt,
    attempt: job.attempt,
    max_attempts: job.maxAttempts,
    locked_by: job.lockedBy,
    attempted_at: job.attemptedAt,
    finished_at: job.finishedAt,
    errors: job.errors,
    unique_key: job.uniqueKey,
    concurrency_key: job.concurrencyKey,
    concurrency_limit: job.concurrencyLimit,
    waiting_for_slot: job.waitingForSlot,
    created_at: job.createdAt,
    traceparent: job.traceparent
  })
})

/** A row the store read, as a record; a row that does not decode is a defect (the database holds what the code does not model). */
export const recordOf: (row: unknown) => JobRecord = Schema.decodeUnknownSync(JobFromRow)

export interface RescueReport {
  /** Processes whose heartbeat went stale, now removed. */
  readonly pruned: ReadonlyArray<string>
  readonly rescued: number
  readonly discarded: number
}

/** One queue's depth: jobs per (unfinished) state, and how long its oldest due job has waited. */
export interface QueueStats {
  readonly queue: string
  readonly counts: Partial<Record<JobState, number>>
  readonly oldestAvailableAgeSeconds: number
  /** Scheduled jobs set aside because their concurrency key was full when they were claimed. */
  readonly waitingForSlot: number
}

export interface ListFilter {
  readonly state?: JobState | undefined
  readonly queue?: string | undefined
  readonly kind?: string | undefined
  /** Jobs whose arguments (as JSON text) contain this text, case-insensitively. */
  readonly search?: string | undefined
  /** Jobs with an id below this one (keyset pagination, newest first). */
  readonly before?: string | undefined
  readonly limit: number
}
