/** Retention: deletes completed jobs after `JOB_RETENTION`, discarded and cancelled ones after `JOB_DISCARDED_RETENTION`. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { beat, loop, sleep, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"

const BATCH = 5_000

/** Prunes until a batch comes back short; returns the number of jobs deleted. */
export const pruneOnce = Effect.gen(function* () {
  const store = yield* JobStore
  const { retention, deadRetention } = yield* EngineConfig
  let total = 0
  for (;;) {
    const deleted = yield* store.prune(retention, deadRetention, BATCH)
    total += deleted
    yield* beat
    if (deleted < BATCH) break
  }
  if (total > 0) yield* Effect.logInfo(`retention deleted ${total} finished job(s)`)
  return total
})

/** Sleeps a random 50–100% of the interval, so replicas started together do not prune together (nor at start-up). */
const pause = (interval: Duration.Duration) =>
  Effect.flatMap(Random.nextRange(0.5, 1), (f) => sleep(Duration.times(interval, f)))

export const RetentionLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { pruneInterval } = yield* EngineConfig
    yield* spawnActor("retention", Effect.zipRight(pause(pruneInterval), loop(pruneOnce, () => pause(pruneInterval))))
  })
)
