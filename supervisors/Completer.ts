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
import type { Finished, Outcome } from "../infra/jobs/JobRecords.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { type FinishOutcome, incGrouped, Metrics } from "../infra/observability/Metrics.ts"
import { awaitLatch, declareWait, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"
import { ProcessIdentity } from "./ProcessIdentity.ts"

/** An outcome to write, with what the metrics label it by. */
export interface Recorded extends Finished {
  readonly queue: string
  readonly kind: string
}

export interface CompleterService {
  /** Queues an outcome for writing; never blocks, never fails. */
  readonly add: (finished: Recorded) => void
}

/** The `outcome` label of an attempt's outcome; hand-backs are not finishes. */
const labelOf: { readonly [T in Outcome["_tag"]]: FinishOutcome | undefined } = {
  Completed: "completed",
  Retry: "retried",
  Discard: "discarded",
  Snooze: "snoozed",
  HandBack: undefined
}

export class Completer extends Context.Tag("switchboard/supervisors/Completer")<Completer, CompleterService>() {}

export const CompleterLive = Layer.scoped(
  Completer,
  Effect.gen(function* () {
    yield* ProcessIdentity // written before this process's row is deleted
    const store = yield* JobStore
    const { completionBatch } = yield* EngineConfig
    const metrics = yield* Metrics
    let pending: Array<Recorded> = []

    /** Counts the outcomes that were written (`changed`: the ids whose row moved; undefined: all of them). */
    const count = (batch: ReadonlyArray<Recorded>, changed: ReadonlySet<string> | undefined) => {
      const written = (f: Recorded) => changed === undefined || changed.has(f.id)
      incGrouped(metrics.jobsFinished, batch, (f) => {
        const outcome = labelOf[f.outcome._tag]
        return outcome === undefined || !written(f) ? undefined : { queue: f.queue, kind: f.kind, outcome }
      })
      incGrouped(metrics.jobSnoozes, batch, (f) => (f.outcome._tag === "Snooze" && written(f) ? { queue: f.queue, reason: f.outcome.kind ?? "other" } : undefined))
    }
    const signal = yield* Effect.makeLatch(false)

    /** One write of a batch: both statements, never cut off half-way. */
    const writeOnce = (batch: ReadonlyArray<Recorded>) =>
      Effect.gen(function* () {
        const completed = batch.filter((f) => f.outcome._tag === "Completed")
        const others = batch.filter((f) => f.outcome._tag !== "Completed")
        const [a, b] = yield* Effect.all([store.complete(completed), store.finish(others)], { concurrency: 2 })
        const missing = batch.length - a.length - b.length
        if (missing === 0) count(batch, undefined)
        else {
          const changed = new Set([...a, ...b])
          count(batch, changed)
          const lost = batch.filter((f) => !changed.has(f.id)).map((f) => f.id)
          yield* Effect.logWarning(`lease lost on ${missing} job(s); their outcomes were not written`).pipe(
            Effect.annotateLogs({ jobs: lost.slice(0, 20).join(",") })
          )
        }
      })

    /** Writes a batch, retrying until the database takes it; if interrupted before it did, the batch goes back to the queue. */
    const write = (batch: ReadonlyArray<Recorded>) => {
      let written = false
      return writeOnce(batch).pipe(
        Effect.zipLeft(Effect.sync(() => (written = true))),
        Effect.uninterruptible,
        Effect.tapError((error) => Effect.logWarning(`could not write ${batch.length} job outcome(s); retrying: ${error.message}`)),
        Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")), Schedule.delays, Schedule.tapOutput(declareWait))),
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
          yield* awaitLatch(signal)
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
