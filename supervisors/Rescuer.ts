/**
 * Rescue: prunes processes whose heartbeat went stale and returns their running
 * jobs to `available` at once (or `discarded` when no attempt is left). Every
 * process runs it; each step is one conditional statement, so concurrent
 * rescuers never double-move a job and no leader is needed. A crashed worker's
 * jobs run again within `PROCESS_STALE_AFTER` + one heartbeat interval.
 *
 * After the database was unreachable, every heartbeat looks stale, the
 * rescuer's own included. So a rescuer that could not reach the database
 * waits two heartbeat intervals once it can again, giving live processes time
 * to beat before it judges them; otherwise an outage longer than the stale
 * timeout would re-run every job that was in flight.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { loop, outageTolerant, sleep, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"

export const rescueOnce = Effect.gen(function* () {
  const store = yield* JobStore
  const { staleAfter } = yield* EngineConfig
  const report = yield* store.rescue(staleAfter)
  if (report.pruned.length > 0 || report.rescued > 0 || report.discarded > 0) {
    yield* Effect.logWarning(
      `rescued ${report.rescued} job(s), discarded ${report.discarded} out of attempts, from ${report.pruned.length} stale process(es)`
    ).pipe(Effect.annotateLogs({ pruned: report.pruned.join(",") }))
  }
  return report
})

export const RescuerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { heartbeatInterval } = yield* EngineConfig
    const store = yield* JobStore
    const guard = outageTolerant("rescue")
    const step = Effect.gen(function* () {
      if (guard.down()) {
        const back = yield* guard.step(Effect.as(store.ping, true), false)
        if (!back) return
        // every heartbeat looks stale now: let live processes beat before judging anyone
        yield* Effect.logInfo("database reachable again; rescue resumes after two heartbeats")
        yield* sleep(Duration.times(heartbeatInterval, 2))
      }
      yield* guard.step(rescueOnce, undefined)
    })
    // a random first delay within one interval: replicas started together do not rescue in lockstep
    const first = Effect.flatMap(Random.nextRange(0, 1), (f) => sleep(Duration.times(heartbeatInterval, f)))
    yield* spawnActor("rescuer", Effect.zipRight(first, loop(step, () => sleep(heartbeatInterval))))
  })
)
