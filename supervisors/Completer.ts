/**
 * Batched outcome writer, one per process.
 *
 * State: the outcomes not yet written. Workers `add` synchronously and move
 * on; one flushing actor writes everything pending in at most two statements
 * (completions, and any other outcome), so under load each round trip carries
 * hundreds of jobs, and when idle a single outcome is written at once.
 *
 * How it fails: a failed write is retried with backoff and its outcomes stay
 * queued (never dropped). An outcome whose lease was fenced off (the job was
 * rescued from us) changes no row; it is logged, not retried.
 * On scope close everything pending is written before the process row goes.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type { Finished } from "../infra/jobs/JobRecords.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"
import { ProcessIdentity } from "./ProcessIdentity.ts"

export interface CompleterService {
  /** Queues an outcome for writing; never blocks, never fails. */
  readonly add: (finished: Finished) => void
}

export class Completer extends Context.Tag("switchboard/supervisors/Completer")<Completer, CompleterService>() {}

export const CompleterLive = Layer.scoped(
  Completer,
  Effect.gen(function* () {
    yield* ProcessIdentity // written before this process's row is deleted
    const store = yield* JobStore
    const { completionBatch } = yield* EngineConfig
    let pending: Array<Finished> = []
    const signal = yield* Effect.makeLatch(false)

    /** One write of a batch: both statements, never cut off half-way. */
    const writeOnce = (batch: ReadonlyArray<Finished>) =>
      Effect.gen(function* () {
        const completed = batch.filter((f) => f.outcome._tag === "Completed")
        const others = batch.filter((f) => f.outcome._tag !== "Completed")
        const [a, b] = yield* Effect.all([store.complete(completed), store.finish(others)], { concurrency: 2 })
        const missing = batch.length - a.length - b.length
        if (missing > 0) {
          const changed = new Set([...a, ...b])
          const lost = batch.filter((f) => !changed.has(f.id)).map((f) => f.id)
          yield* Effect.logWarning(`lease lost on ${missing} job(s); their outcomes were not written`).pipe(
            Effect.annotateLogs({ jobs: lost.slice(0, 20).join(",") })
          )
        }
      })

    /** Writes a batch, retrying until the database takes it; if interrupted before it did, the batch goes back to the queue. */
    const write = (batch: ReadonlyArray<Finished>) => {
      let written = false
      return writeOnce(batch).pipe(
        Effect.zipLeft(Effect.sync(() => (written = true))),
        Effect.uninterruptible,
        Effect.tapError((error) => Effect.logWarning(`could not write ${batch.length} job outcome(s); retrying: ${error.message}`)),
        Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
        Effect.orDie, // the schedule never ends
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (!written) pending = [...batch, ...pending]
          })
        )
      )
    }

    /** Writes everything pending, a batch at a time (batches are taken synchronously, so concurrent drains never overlap). */
    const drain = Effect.gen(function* () {
      while (pending.length > 0) {
        const batch = pending.length <= completionBatch ? pending : pending.slice(0, completionBatch)
        pending = pending.length <= completionBatch ? [] : pending.slice(completionBatch)
        yield* write(batch)
      }
    })

    const flusher = yield* spawnActor(
      "completer",
      Effect.forever(
        Effect.gen(function* () {
          yield* signal.await
          yield* signal.close
          yield* Effect.yieldNow() // let outcomes finished in the same tick join the batch
          yield* drain
        })
      )
    )
    // Runs before the flusher's own interruption: stop it (after its write in flight), then write the rest,
    // for at most 10 s (finalizers are uninterruptible, so the timed part opts back in). Jobs whose outcome
    // is still unwritten then are handed back when the process releases what it holds (ProcessIdentity).
    yield* Effect.addFinalizer(() =>
      Fiber.interrupt(flusher).pipe(
        Effect.zipRight(drain.pipe(Effect.interruptible, Effect.timeout("10 seconds"))),
        Effect.catchAll(() => Effect.logWarning(`shutdown: ${pending.length} job outcome(s) could not be written`))
      )
    )

    return {
      add: (finished) => {
        pending.push(finished)
        signal.unsafeOpen()
      }
    } satisfies CompleterService
  })
)
