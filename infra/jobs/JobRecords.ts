/** The shapes the job store reads and writes. Ids and leases are bigint, kept as strings. */
import type { AttemptError } from "../../domain/jobs/JobErrors.ts"
import type { Job } from "../../domain/jobs/Job.ts"
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
  | { readonly _tag: "Snooze"; readonly delayMs: number }
  /** Returned unstarted or interrupted at shutdown: back to available, attempt refunded. */
  | { readonly _tag: "HandBack"; readonly error?: AttemptError | undefined }

export interface Finished extends AttemptRef {
  readonly outcome: Outcome
}

/** A job as the store reads it: the Type of the domain's Job schema (domain/jobs/Job.ts). */
export type JobRecord = Job

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
}

export interface ListFilter {
  readonly state?: JobState | undefined
  readonly queue?: string | undefined
  readonly kind?: string | undefined
  /** Jobs with an id below this one (keyset pagination, newest first). */
  readonly before?: string | undefined
  readonly limit: number
}
