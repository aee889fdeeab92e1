/**
 * This process's view of the queues operators paused (infra/jobs/EngineControls.ts).
 *
 * State: the set of paused queues as last read, and the pools watching each
 * queue. The claim statement already claims nothing of a paused queue, in
 * every process, from the pause's commit on; this view is what lets a pool
 * act on a change: hand back the jobs it holds but has not started when its
 * queue is paused, and claim at once when it is resumed.
 *
 * How it learns: a NOTIFY of `@controls` on the jobs channel wakes the
 * `queue-pauses` actor, which re-reads the table; it also re-reads every
 * `min(JOB_POLL_INTERVAL, 1 s)`, so a missed notification (or a row written
 * by hand) costs at most that. While the database does not answer, the view
 * keeps its last value: claims are still refused by the database itself.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { CONTROLS_PAYLOAD, EngineControls } from "../infra/jobs/EngineControls.ts"
import { Notifier } from "../infra/jobs/Notifier.ts"
import { awaitLatch, loop, outageTolerant, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"

export interface QueuePausesService {
  /** Whether `queue` was paused when this process last looked. */
  readonly isPaused: (queue: string) => boolean
  /** Calls `onChange` with the new state each time `queue` is paused or resumed, for the life of the scope. */
  readonly watch: (queue: string, onChange: (paused: boolean) => void) => Effect.Effect<void, never, Scope.Scope>
}

export class QueuePauses extends Context.Tag("switchboard/supervisors/QueuePauses")<QueuePauses, QueuePausesService>() {}

/** The longest a missed notification delays a pause or resume here. */
const MAX_POLL = Duration.seconds(1)

/** The view and its one step (`refresh`: read the table, tell the watchers what changed, return the queues that changed). */
export const makeQueuePauses = Effect.gen(function* () {
  const controls = yield* EngineControls
  let paused: ReadonlySet<string> = new Set()
  const watchers = new Map<string, Set<(paused: boolean) => void>>()

  const refresh = Effect.gen(function* () {
    const now = new Set((yield* controls.pausedQueues).keys())
    const changed = [...new Set([...paused, ...now])].filter((queue) => paused.has(queue) !== now.has(queue))
    paused = now
    for (const queue of changed) for (const onChange of watchers.get(queue) ?? []) onChange(now.has(queue))
    return changed
  })

  const service: QueuePausesService = {
    isPaused: (queue) => paused.has(queue),
    watch: (queue, onChange) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const set = watchers.get(queue) ?? new Set()
          set.add(onChange)
          watchers.set(queue, set)
        }),
        () => Effect.sync(() => watchers.get(queue)?.delete(onChange))
      )
  }
  return { service, refresh } as const
})

export const QueuePausesLive = Layer.scoped(
  QueuePauses,
  Effect.gen(function* () {
    const { service, refresh } = yield* makeQueuePauses
    const notifier = yield* Notifier
    const { pollInterval } = yield* EngineConfig
    const every = Duration.min(pollInterval, MAX_POLL)
    const guard = outageTolerant("reading paused queues")
    // the pools start with the current state (or none, while the database does not answer)
    yield* guard.step(refresh, [])
    const wake = yield* Effect.makeLatch(false)
    yield* notifier.subscribe(CONTROLS_PAYLOAD, () => wake.unsafeOpen())
    yield* spawnActor(
      "queue-pauses",
      loop(guard.step(refresh, []), () => Effect.zipRight(awaitLatch(wake, every), wake.close))
    )
    return service
  })
)
