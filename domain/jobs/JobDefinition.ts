/**
 * A job kind: its name, queue, argument schema and execution policy. Pure data;
 * handlers are attached where the job's dependencies live (see `supervisors/JobRegistry`).
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as Schema from "effect/Schema"
import { type BackoffPolicy, defaultBackoff } from "./RetryPolicy.ts"

/** 0 is the most urgent. */
export const Priority = { critical: 0, high: 1, normal: 2, low: 3, bulk: 9 } as const
export const PriorityRange = { min: 0, max: 9 } as const
export const isPriority = (n: number): boolean => Number.isInteger(n) && n >= PriorityRange.min && n <= PriorityRange.max

/**
 * At most `count` jobs with one rate key run within any window of `per`, across all processes: a job counts
 * from its start until `per` after it stops running (docs/job-engine.md "Rate keys").
 */
export interface JobRateLimit {
  readonly count: number
  readonly per: Duration.Duration
}

/** A rate as callers write it: `{ count: 1, per: "1 second" }`. */
export interface JobRateLimitInput {
  readonly count: number
  readonly per: Duration.DurationInput
}

/** Bounds of a rate (the ends of a key's jobs are kept for at most a day). */
export const RateLimitRange = { maxCount: 1_000, minPer: Duration.millis(1), maxPer: Duration.days(1) } as const

/** The rate, or why it is not one. */
export const rateLimitOf = (input: JobRateLimitInput): Either.Either<JobRateLimit, string> => {
  if (!(Number.isInteger(input.count) && input.count >= 1 && input.count <= RateLimitRange.maxCount)) {
    return Either.left(`rateLimit.count must be an integer in [1, ${RateLimitRange.maxCount}]`)
  }
  const per = Duration.decodeUnknown(input.per)
  if (per._tag === "None" || !Duration.between(per.value, { minimum: RateLimitRange.minPer, maximum: RateLimitRange.maxPer })) {
    return Either.left("rateLimit.per must be a duration from 1 millisecond to 1 day")
  }
  return Either.right({ count: input.count, per: per.value })
}

export interface JobDefinition<A, I = A> {
  readonly kind: string
  readonly queue: string
  readonly args: Schema.Schema<A, I>
  readonly maxAttempts: number
  readonly backoff: BackoffPolicy
  readonly timeout: Duration.Duration
  readonly priority: number
  /** Default limit for jobs enqueued with a concurrency key (running at once per key, across processes). */
  readonly concurrencyLimit: number
  /** Default rate for jobs enqueued with a rate key; without one, such an enqueue must give its rate. */
  readonly rateLimit: JobRateLimit | undefined
}

export interface JobDefinitionInput<A, I> {
  readonly kind: string
  readonly queue?: string
  readonly args: Schema.Schema<A, I>
  readonly maxAttempts?: number
  readonly backoff?: BackoffPolicy
  readonly timeout?: Duration.DurationInput
  readonly priority?: number
  readonly concurrencyLimit?: number
  readonly rateLimit?: JobRateLimitInput
}

export const defaults = {
  queue: "default",
  maxAttempts: 25,
  timeout: Duration.minutes(1),
  priority: Priority.normal
} as const

const KIND = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/
const QUEUE = /^[a-z][a-z0-9_-]{0,62}$/

export const isQueueName = (name: string): boolean => QUEUE.test(name)

/** Declares a job kind; throws at module load on a malformed definition, which is a programming error. */
export const defineJob = <A, I>(input: JobDefinitionInput<A, I>): JobDefinition<A, I> => {
  const rateLimit = input.rateLimit === undefined ? undefined : rateLimitOf(input.rateLimit)
  const definition: JobDefinition<A, I> = {
    kind: input.kind,
    queue: input.queue ?? defaults.queue,
    args: input.args,
    maxAttempts: input.maxAttempts ?? defaults.maxAttempts,
    backoff: input.backoff ?? defaultBackoff,
    timeout: input.timeout === undefined ? defaults.timeout : Duration.decode(input.timeout),
    priority: input.priority ?? defaults.priority,
    concurrencyLimit: input.concurrencyLimit ?? 1,
    rateLimit: rateLimit === undefined ? undefined : Either.getOrUndefined(rateLimit)
  }
  const problems = [
    KIND.test(definition.kind) ? undefined : `kind "${definition.kind}" must be dotted snake_case`,
    isQueueName(definition.queue) ? undefined : `queue "${definition.queue}" must match ${QUEUE}`,
    Number.isInteger(definition.maxAttempts) && definition.maxAttempts >= 1 ? undefined : "maxAttempts must be >= 1",
    isPriority(definition.priority) ? undefined : `priority must be an integer in [${PriorityRange.min}, ${PriorityRange.max}]`,
    definition.backoff.baseMs >= 0 && definition.backoff.capMs >= definition.backoff.baseMs
      ? undefined
      : "backoff needs 0 <= base <= cap",
    Duration.greaterThan(definition.timeout, Duration.zero) ? undefined : "timeout must be positive",
    Number.isInteger(definition.concurrencyLimit) && definition.concurrencyLimit >= 1 ? undefined : "concurrencyLimit must be >= 1",
    rateLimit !== undefined && Either.isLeft(rateLimit) ? rateLimit.left : undefined
  ].filter((p) => p !== undefined)
  if (problems.length > 0) throw new Error(`defineJob(${input.kind}): ${problems.join("; ")}`)
  return definition
}
