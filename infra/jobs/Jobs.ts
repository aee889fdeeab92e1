/**
 * Enqueueing: validates arguments against the job's schema and inserts the
 * row. Runs on the ambient `SqlClient`, so inside `sql.withTransaction` the job
 * exists if and only if the caller's transaction commits.
 */
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type JobDefinition, type JobRateLimit, type JobRateLimitInput, PriorityRange, rateLimitOf } from "../../domain/jobs/JobDefinition.ts"
import type { DatabaseError } from "../db/DatabaseError.ts"
import { currentTraceparent } from "../observability/TraceContext.ts"
import { TraceExport } from "../observability/Tracing.ts"
import type { Inserted, NewJob } from "./JobRecords.ts"
import { JobStore } from "./JobStore.ts"

export class InvalidJob extends Data.TaggedError("InvalidJob")<{
  readonly kind: string
  /** The option or argument at fault (`priority`, `runAt`, `args.name`, ...); empty for the job as a whole. */
  readonly path: string
  readonly message: string
}> {}

/** Bounds that keep every value storable (Postgres integer, timestamptz and text limits). */
export const Limits = {
  maxAttempts: 10_000,
  concurrencyLimit: 100_000,
  keyLength: 500,
  /** runAt must fall in [earliest, latest]. */
  earliest: Date.UTC(1970, 0, 1),
  latest: Date.UTC(9999, 11, 31),
  maxDelayMs: 100 * 365 * 86_400_000
} as const

/** Text Postgres can store: no NUL and no lone UTF-16 surrogate. */
const storable = (text: string): boolean =>
  !text.includes("\u0000") && (text as string & { isWellFormed(): boolean }).isWellFormed()

/** The path of the first string (key or value) in `value` that Postgres could not store. */
const unstorableIn = (value: unknown, path: string): string | undefined => {
  if (typeof value === "string") return storable(value) ? undefined : path
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorableIn(item, `${path}.${i}`)
      if (found !== undefined) return found
    }
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (!storable(key)) return `${path}.${key}`
      const found = unstorableIn(item, `${path}.${key}`)
      if (found !== undefined) return found
    }
  }
  return undefined
}

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
  /** Jobs sharing this key start at most `rateLimit.count` times per `rateLimit.per` across all processes. */
  readonly rateKey?: string | undefined
  /** The key's rate, `{ count: 1, per: "1 second" }`; the job definition's when absent. */
  readonly rateLimit?: JobRateLimitInput | undefined
  readonly maxAttempts?: number | undefined
  /** W3C traceparent stored with the job so that its attempts continue the trace; by default the enqueue span's. */
  readonly traceparent?: string | undefined
}

const integerIn = (value: number | undefined, min: number, max: number) =>
  value === undefined || (Number.isInteger(value) && value >= min && value <= max)

const checkKey = (name: string, key: string | undefined): { path: string; message: string } | undefined =>
  key === undefined || (key.length >= 1 && key.length <= Limits.keyLength && storable(key))
    ? undefined
    : { path: name, message: `${name} must be 1..${Limits.keyLength} characters, without NUL or unpaired surrogates` }

/** The first option that is out of bounds, with its path. */
const checkOptions = (kind: string, options: EnqueueOptions): { path: string; message: string } | undefined => {
  if (kind.length === 0) return { path: "kind", message: "kind is empty" }
  if (!integerIn(options.priority, PriorityRange.min, PriorityRange.max)) {
    return { path: "priority", message: `priority must be an integer in [${PriorityRange.min}, ${PriorityRange.max}]` }
  }
  if (!integerIn(options.maxAttempts, 1, Limits.maxAttempts)) return { path: "maxAttempts", message: `maxAttempts must be an integer in [1, ${Limits.maxAttempts}]` }
  if (!integerIn(options.concurrencyLimit, 1, Limits.concurrencyLimit)) {
    return { path: "concurrencyLimit", message: `concurrencyLimit must be an integer in [1, ${Limits.concurrencyLimit}]` }
  }
  const badKey = checkKey("uniqueKey", options.uniqueKey) ?? checkKey("concurrencyKey", options.concurrencyKey) ?? checkKey("rateKey", options.rateKey)
  if (badKey !== undefined) return badKey
  if (options.rateLimit !== undefined) {
    if (options.rateKey === undefined) return { path: "rateKey", message: "a rateLimit needs a rateKey" }
    const rate = rateLimitOf(options.rateLimit)
    if (Either.isLeft(rate)) return { path: "rateLimit", message: rate.left }
  }
  if (options.runAt !== undefined && options.delay !== undefined) return { path: "runAt", message: "give runAt or delay, not both" }
  const runAt = runAtOf(options)?.getTime()
  if (runAt !== undefined && !(runAt >= Limits.earliest && runAt <= Limits.latest)) {
    return { path: "runAt", message: "runAt must be a valid time between 1970-01-01 and 9999-12-31" }
  }
  if (options.delay !== undefined && !(Duration.toMillis(options.delay) >= 0 && Duration.toMillis(options.delay) <= Limits.maxDelayMs)) {
    return { path: "delay", message: "delay must be between 0 and 100 years" }
  }
  return undefined
}

const runAtOf = (options: EnqueueOptions): Date | undefined => {
  if (options.runAt === undefined) return undefined
  return options.runAt instanceof Date ? options.runAt : DateTime.toDate(options.runAt)
}

/** The rate of a job enqueued with a rate key: the one given (already checked), else its definition's. */
const rateOf = (fallback: JobRateLimit | undefined, options: EnqueueOptions): JobRateLimit | undefined => {
  if (options.rateKey === undefined) return undefined
  if (options.rateLimit === undefined) return fallback
  return Either.getOrUndefined(rateLimitOf(options.rateLimit))
}

/** Builds the row for a job: encodes and validates the arguments, applies the definition's defaults. */
export const prepare = <A, I>(
  job: JobDefinition<A, I>,
  args: A,
  options: EnqueueOptions = {}
): Effect.Effect<NewJob, InvalidJob> =>
  Effect.gen(function* () {
    const problem = checkOptions(job.kind, options)
    if (problem !== undefined) return yield* new InvalidJob({ kind: job.kind, ...problem })
    const rate = rateOf(job.rateLimit, options)
    if (options.rateKey !== undefined && rate === undefined) {
      return yield* new InvalidJob({ kind: job.kind, path: "rateLimit", message: `a rateKey needs a rateLimit (${job.kind} has no default rate)` })
    }
    const encoded = yield* Schema.encode(job.args)(args).pipe(
      Effect.mapError((error) => new InvalidJob({ kind: job.kind, path: "args", message: ParseResult.TreeFormatter.formatErrorSync(error) }))
    )
    const unstorable = unstorableIn(encoded, "args")
    if (unstorable !== undefined) {
      return yield* new InvalidJob({ kind: job.kind, path: unstorable, message: `${unstorable} holds text that cannot be stored (NUL or an unpaired surrogate)` })
    }
    return {
      queue: job.queue,
      kind: job.kind,
      args: encoded,
      priority: options.priority ?? job.priority,
      maxAttempts: options.maxAttempts ?? job.maxAttempts,
      runAt: runAtOf(options),
      delayMs: options.delay === undefined ? undefined : Math.round(Duration.toMillis(options.delay)),
      uniqueKey: options.uniqueKey,
      concurrencyKey: options.concurrencyKey,
      concurrencyLimit: options.concurrencyKey === undefined ? undefined : (options.concurrencyLimit ?? job.concurrencyLimit),
      rateKey: rate === undefined ? undefined : options.rateKey,
      rateCount: rate?.count,
      ratePerMs: rate === undefined ? undefined : Duration.toMillis(rate.per),
      traceparent: options.traceparent
    }
  })

/**
 * The rows with the current span as their trace parent, unless the caller gave one. Only
 * while spans are exported: otherwise no trace would show the link, and each attempt
 * would pay for a span nobody sees.
 */
const traced = (rows: ReadonlyArray<NewJob>): Effect.Effect<ReadonlyArray<NewJob>> =>
  Effect.flatMap(TraceExport, ({ exporting }) =>
    !exporting
      ? Effect.succeed(rows)
      : Effect.map(currentTraceparent, (traceparent) => rows.map((row) => (row.traceparent !== undefined ? row : { ...row, traceparent })))
  )

/** Enqueues one job (joining the caller's transaction, if any). */
export const enqueue = <A, I>(
  job: JobDefinition<A, I>,
  args: A,
  options?: EnqueueOptions
): Effect.Effect<Inserted, InvalidJob | DatabaseError, JobStore> =>
  Effect.flatMap(prepare(job, args, options), (row) =>
    Effect.flatMap(JobStore, (store) => Effect.flatMap(traced([row]), ([traced]) => store.insert(traced ?? row)))
  ).pipe(
    Effect.withSpan("switchboard.enqueue", { kind: "producer", attributes: { "job.kind": job.kind, "job.queue": job.queue } })
  )

/** Enqueues many jobs in one statement; returns how many were inserted. */
export const enqueueMany = <A, I>(
  job: JobDefinition<A, I>,
  items: ReadonlyArray<{ readonly args: A; readonly options?: EnqueueOptions }>
): Effect.Effect<number, InvalidJob | DatabaseError, JobStore> =>
  Effect.forEach(items, (item) => prepare(job, item.args, item.options)).pipe(
    Effect.flatMap((rows) => Effect.flatMap(JobStore, (store) => Effect.flatMap(traced(rows), store.insertMany))),
    Effect.withSpan("switchboard.enqueueMany", { kind: "producer", attributes: { "job.kind": job.kind, "job.queue": job.queue, "job.count": items.length } })
  )
