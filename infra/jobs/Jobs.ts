/**
 * Enqueueing: validates arguments against the job's schema and inserts the
 * row. Runs on the ambient `SqlClient`, so inside `sql.withTransaction` the job
 * exists if and only if the caller's transaction commits.
 */
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { isPriority, type JobDefinition, PriorityRange } from "../../domain/jobs/JobDefinition.ts"
import type { DatabaseError } from "../db/DatabaseError.ts"
import { currentTraceparent } from "../observability/TraceContext.ts"
import type { Inserted, NewJob } from "./JobRecords.ts"
import { JobStore } from "./JobStore.ts"

export class InvalidJob extends Data.TaggedError("InvalidJob")<{
  readonly kind: string
  readonly message: string
}> {}

export interface EnqueueOptions {
  /** When to run; now when absent or past. */
  readonly runAt?: Date | DateTime.DateTime | undefined
  /** Alternative to runAt: run after this delay. */
  readonly delay?: Duration.DurationInput | undefined
  readonly priority?: number | undefined
  /** Idempotent enqueue: a second job with this key is not inserted while the first row exists. */
  readonly uniqueKey?: string | undefined
  /** Jobs sharing this key run at most `concurrencyLimit` at a time across all processes. */
  readonly concurrencyKey?: string | undefined
  readonly concurrencyLimit?: number | undefined
  readonly maxAttempts?: number | undefined
  /** W3C traceparent stored with the job so that its attempts continue the trace; by default the enqueue span's. */
  readonly traceparent?: string | undefined
}

const checkOptions = (kind: string, options: EnqueueOptions): string | undefined => {
  if (options.priority !== undefined && !isPriority(options.priority)) return `priority must be an integer in [${PriorityRange.min}, ${PriorityRange.max}]`
  if (options.maxAttempts !== undefined && !(Number.isInteger(options.maxAttempts) && options.maxAttempts >= 1)) return "maxAttempts must be >= 1"
  if (options.concurrencyLimit !== undefined && !(Number.isInteger(options.concurrencyLimit) && options.concurrencyLimit >= 1)) return "concurrencyLimit must be >= 1"
  if (options.uniqueKey !== undefined && (options.uniqueKey.length === 0 || options.uniqueKey.length > 500)) return "uniqueKey must be 1..500 characters"
  if (options.concurrencyKey !== undefined && (options.concurrencyKey.length === 0 || options.concurrencyKey.length > 500)) return "concurrencyKey must be 1..500 characters"
  if (options.runAt !== undefined && options.delay !== undefined) return "give runAt or delay, not both"
  if (options.runAt instanceof Date && Number.isNaN(options.runAt.getTime())) return "runAt is not a valid time"
  if (options.delay !== undefined && !(Duration.toMillis(options.delay) >= 0)) return "delay must not be negative"
  return kind.length === 0 ? "kind is empty" : undefined
}

const runAtOf = (options: EnqueueOptions): Date | undefined => {
  if (options.runAt === undefined) return undefined
  return options.runAt instanceof Date ? options.runAt : DateTime.toDate(options.runAt)
}

/** Builds the row for a job: encodes and validates the arguments, applies the definition's defaults. */
export const prepare = <A, I>(
  job: JobDefinition<A, I>,
  args: A,
  options: EnqueueOptions = {}
): Effect.Effect<NewJob, InvalidJob> =>
  Effect.gen(function* () {
    const problem = checkOptions(job.kind, options)
    if (problem !== undefined) return yield* new InvalidJob({ kind: job.kind, message: problem })
    const encoded = yield* Schema.encode(job.args)(args).pipe(
      Effect.mapError((error) => new InvalidJob({ kind: job.kind, message: ParseResult.TreeFormatter.formatErrorSync(error) }))
    )
    return {
      queue: job.queue,
      kind: job.kind,
      args: encoded,
      priority: options.priority ?? job.priority,
      maxAttempts: options.maxAttempts ?? job.maxAttempts,
      runAt: runAtOf(options),
      delayMs: options.delay === undefined ? undefined : Duration.toMillis(options.delay),
      uniqueKey: options.uniqueKey,
      concurrencyKey: options.concurrencyKey,
      concurrencyLimit: options.concurrencyKey === undefined ? undefined : (options.concurrencyLimit ?? job.concurrencyLimit),
      traceparent: options.traceparent
    }
  })

/** The rows with the current span as their trace parent, unless the caller gave one. */
const traced = (rows: ReadonlyArray<NewJob>): Effect.Effect<ReadonlyArray<NewJob>> =>
  Effect.map(currentTraceparent, (traceparent) => rows.map((row) => (row.traceparent !== undefined ? row : { ...row, traceparent })))

/** Enqueues one job (joining the caller's transaction, if any). */
export const enqueue = <A, I>(
  job: JobDefinition<A, I>,
  args: A,
  options?: EnqueueOptions
): Effect.Effect<Inserted, InvalidJob | DatabaseError, JobStore> =>
  Effect.flatMap(prepare(job, args, options), (row) =>
    Effect.flatMap(JobStore, (store) => Effect.flatMap(traced([row]), ([traced]) => store.insert(traced ?? row)))
  ).pipe(
    Effect.withSpan("switchboard.enqueue", { attributes: { "job.kind": job.kind, "job.queue": job.queue } })
  )

/** Enqueues many jobs in one statement; returns how many were inserted. */
export const enqueueMany = <A, I>(
  job: JobDefinition<A, I>,
  items: ReadonlyArray<{ readonly args: A; readonly options?: EnqueueOptions }>
): Effect.Effect<number, InvalidJob | DatabaseError, JobStore> =>
  Effect.forEach(items, (item) => prepare(job, item.args, item.options)).pipe(
    Effect.flatMap((rows) => Effect.flatMap(JobStore, (store) => Effect.flatMap(traced(rows), store.insertMany))),
    Effect.withSpan("switchboard.enqueueMany", { attributes: { "job.kind": job.kind, "job.queue": job.queue, "job.count": items.length } })
  )
