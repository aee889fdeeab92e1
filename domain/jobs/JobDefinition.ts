/**
 * A job kind: its name, queue, argument schema and execution policy. Pure data;
 * handlers are attached where the job's dependencies live (see `supervisors/JobRegistry`).
 */
import * as Duration from "effect/Duration"
import type * as Schema from "effect/Schema"
import { type BackoffPolicy, defaultBackoff } from "./RetryPolicy.ts"

/** 0 is the most urgent. */
export const Priority = { critical: 0, high: 1, normal: 2, low: 3, bulk: 9 } as const
export const PriorityRange = { min: 0, max: 9 } as const
export const isPriority = (n: number): boolean => Number.isInteger(n) && n >= PriorityRange.min && n <= PriorityRange.max

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
  const definition: JobDefinition<A, I> = {
    kind: input.kind,
    queue: input.queue ?? defaults.queue,
    args: input.args,
    maxAttempts: input.maxAttempts ?? defaults.maxAttempts,
    backoff: input.backoff ?? defaultBackoff,
    timeout: input.timeout === undefined ? defaults.timeout : Duration.decode(input.timeout),
    priority: input.priority ?? defaults.priority,
    concurrencyLimit: input.concurrencyLimit ?? 1
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
    Number.isInteger(definition.concurrencyLimit) && definition.concurrencyLimit >= 1 ? undefined : "concurrencyLimit must be >= 1"
  ].filter((p) => p !== undefined)
  if (problems.length > 0) throw new Error(`defineJob(${input.kind}): ${problems.join("; ")}`)
  return definition
}
