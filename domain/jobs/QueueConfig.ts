/**
 * Worker pool sizes, written as `QUEUES="default:10,calls:4,sms:8"`.
 * An optional third field sets how many claimed jobs a pool may hold beyond
 * its running ones (prefetch): `default:10:500`.
 */
import * as Either from "effect/Either"
import { isQueueName } from "./JobDefinition.ts"

export interface QueueConfig {
  readonly queue: string
  readonly concurrency: number
  readonly prefetch: number
}

/** Prefetch when none is given: enough to keep a busy pool fed between claims. */
export const defaultPrefetch = (concurrency: number): number => concurrency

const positiveInt = (text: string | undefined, min: number): number | undefined => {
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  const n = Number(text)
  return n >= min && n <= 10_000 ? n : undefined
}

export const parseQueues = (text: string): Either.Either<ReadonlyArray<QueueConfig>, string> => {
  const entries = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  if (entries.length === 0) return Either.left("QUEUES names no queue; expected e.g. default:10,calls:4")
  const seen = new Set<string>()
  const queues: Array<QueueConfig> = []
  for (const entry of entries) {
    const [queue = "", concurrencyText, prefetchText, ...rest] = entry.split(":")
    const concurrency = positiveInt(concurrencyText, 1)
    const prefetch = prefetchText === undefined ? defaultPrefetch(concurrency ?? 0) : positiveInt(prefetchText, 0)
    if (!isQueueName(queue) || concurrency === undefined || prefetch === undefined || rest.length > 0) {
      return Either.left(`QUEUES entry "${entry}" is not queue:concurrency[:prefetch] (concurrency 1..10000)`)
    }
    if (seen.has(queue)) return Either.left(`QUEUES names queue "${queue}" twice`)
    seen.add(queue)
    queues.push({ queue, concurrency, prefetch })
  }
  return Either.right(queues)
}
