/** Job handlers: a definition plus the effect that runs it. Only what a process registers, it claims. */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { JobDefinition } from "../domain/jobs/JobDefinition.ts"
import { type JobFailure, Permanent } from "../domain/jobs/JobErrors.ts"

/** What a handler knows about the attempt it runs. */
export interface JobContext {
  readonly id: string
  readonly queue: string
  readonly kind: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly priority: number
}

export interface JobHandler<R = never> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- handlers of different argument types share one registry
  readonly definition: JobDefinition<any, any>
  /** Decodes the stored arguments and runs the handler; bad arguments are a permanent failure. */
  readonly run: (args: unknown, context: JobContext) => Effect.Effect<void, JobFailure, R>
}

export const handle = <A, I, R>(
  definition: JobDefinition<A, I>,
  run: (args: A, context: JobContext) => Effect.Effect<void, JobFailure, R>
): JobHandler<R> => {
  // synchronous decoding: argument schemas never need effects, and this runs once per attempt
  const decode = Schema.decodeUnknownEither(definition.args)
  return {
    definition,
    run: (raw, context) =>
      Effect.suspend(() => {
        const args = decode(raw)
        return Either.isRight(args)
          ? run(args.right, context)
          : Effect.fail(
              new Permanent({ message: `arguments do not match ${definition.kind}: ${ParseResult.TreeFormatter.formatErrorSync(args.left)}` })
            )
      })
  }
}

/** Handlers by kind, grouped by queue; duplicate kinds are a programming error. */
export const index = <R>(handlers: ReadonlyArray<JobHandler<R>>): ReadonlyMap<string, ReadonlyMap<string, JobHandler<R>>> => {
  const byQueue = new Map<string, Map<string, JobHandler<R>>>()
  const kinds = new Set<string>()
  for (const handler of handlers) {
    const { kind, queue } = handler.definition
    if (kinds.has(kind)) throw new Error(`two handlers for job kind ${kind}`)
    kinds.add(kind)
    const queueHandlers = byQueue.get(queue) ?? new Map<string, JobHandler<R>>()
    queueHandlers.set(kind, handler)
    byQueue.set(queue, queueHandlers)
  }
  return byQueue
}
