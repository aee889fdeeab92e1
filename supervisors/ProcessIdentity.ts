/**
 * This process: its id in `processes`, its role, and the load of its pools.
 * The layer registers the row, keeps it fresh (heartbeat actor) and deletes it
 * on shutdown. Pools depend on it, so they drain before the row goes.
 *
 * A heartbeat that finds its row gone means this process was presumed dead
 * (paused, partitioned) and its jobs were rescued; it registers again, and the
 * writes of the attempts it still runs are fenced off by their stale leases.
 *
 * A heartbeat that finds a drain request on its row (an operator's, through
 * EngineControls.requestDrain) starts this process's graceful shutdown once,
 * through ProcessStop: the same shutdown as SIGTERM, a heartbeat after the request.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { type Beat, type ProcessInfo, ProcessRegistry, type QueueLoad } from "../infra/jobs/ProcessRegistry.ts"
import { loop, outageTolerant, sleep, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"
import { ProcessStop } from "./ProcessStop.ts"

export interface ProcessIdentityService {
  readonly id: string
  readonly role: string
  readonly hostname: string
  readonly pid: number
  /** Each pool registers how to read its load; the heartbeat reads them when it publishes. */
  readonly loads: Map<string, () => QueueLoad>
}

export class ProcessIdentity extends Context.Tag("switchboard/supervisors/ProcessIdentity")<ProcessIdentity, ProcessIdentityService>() {}

const loadsOf = (self: ProcessIdentityService): Record<string, QueueLoad> =>
  Object.fromEntries([...self.loads].map(([queue, read]) => [queue, read()]))

const infoOf = (self: ProcessIdentityService): ProcessInfo => ({
  id: self.id,
  role: self.role,
  hostname: self.hostname,
  pid: self.pid,
  queues: loadsOf(self)
})

/** One heartbeat: refresh the row, or register again if it was pruned. Returns what it found (`found: false`: it had been pruned). */
export const beatOnce = (self: ProcessIdentityService) =>
  Effect.gen(function* () {
    const registry = yield* ProcessRegistry
    const beat = yield* registry.beat(self.id, loadsOf(self))
    if (!beat.found) {
      yield* Effect.logWarning("this process was presumed dead and its jobs rescued; registering again")
      yield* registry.register(infoOf(self))
    }
    return beat
  })

export const ProcessIdentityLive = (role: string) =>
  Layer.scoped(
    ProcessIdentity,
    Effect.gen(function* () {
      const registry = yield* ProcessRegistry
      const store = yield* JobStore
      const config = yield* EngineConfig
      const self: ProcessIdentityService = { id: randomUUID(), role, hostname: os.hostname(), pid: process.pid, loads: new Map() }
      // Released after the pools and the completer: hand back anything still held, then leave.
      yield* Effect.acquireRelease(registry.register(infoOf(self)), () =>
        store.releaseHeld(self.id).pipe(
          Effect.tap((n) => (n > 0 ? Effect.logWarning(`handed back ${n} job(s) still held at shutdown`) : Effect.void)),
          Effect.zipRight(registry.deregister(self.id)),
          Effect.catchAll((error) => Effect.logWarning(`shutdown could not release this process: ${error.message}`))
        )
      )
      // The row was just written: the first beat is one interval away. A beat that cannot
      // reach the database is retried at the same pace (not the actor restart backoff), so the
      // row is fresh again within one interval of the database coming back.
      const { stop } = yield* ProcessStop
      let stopping = false
      const drainOnRequest = (beat: Beat) =>
        !beat.drainRequested || stopping
          ? Effect.void
          : Effect.suspend(() => {
              stopping = true // once: the heartbeat goes on while the process drains
              return stop("an operator asked this process to drain")
            })
      const beat = outageTolerant("heartbeat").step(beatOnce(self), { found: true, drainRequested: false } satisfies Beat)
      yield* spawnActor("heartbeat", loop(Effect.zipRight(sleep(config.heartbeatInterval), Effect.flatMap(beat, drainOnRequest)), () => Effect.void))
      yield* Effect.annotateLogsScoped({ process: self.id })
      return self
    })
  )
