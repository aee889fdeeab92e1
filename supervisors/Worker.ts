/**
 * The job engine of one process, as one layer: worker pools for the queues in
 * `QUEUES` that this process has handlers for, the completer, heartbeat,
 * paused-queue view, rescuer, promoter, retention and cron scheduler, over the
 * LISTEN notifier.
 *
 * Start order follows the dependencies (notifier -> process row and heartbeat
 * -> completer and paused-queue view -> pools and maintenance actors); closing the scope stops them
 * in reverse: pools drain (SHUTDOWN_GRACE), outcomes are flushed, the process
 * row is deleted, the listener disconnects.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { CronDefinition } from "../domain/jobs/CronDefinition.ts"
import { EngineControls } from "../infra/jobs/EngineControls.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import * as Notifier from "../infra/jobs/Notifier.ts"
import { beat, declareWait, spawnActor } from "./Actor.ts"
import { ProcessRegistry } from "../infra/jobs/ProcessRegistry.ts"
import { CompleterLive } from "./Completer.ts"
import { CronSchedulerLive } from "./CronScheduler.ts"
import { EngineConfig, EngineConfigLive } from "./EngineConfig.ts"
import { index, type JobHandler } from "./JobRegistry.ts"
import { ProcessIdentityLive } from "./ProcessIdentity.ts"
import { PromoterLive } from "./Promoter.ts"
import { QueuePausesLive } from "./QueuePauses.ts"
import { RescuerLive } from "./Rescuer.ts"
import { RetentionLive } from "./Retention.ts"
import { makePool, type PoolHandle } from "./WorkerPool.ts"

export const WorkerPoolsLive = <R>(handlers: ReadonlyArray<JobHandler<R>>) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const config = yield* EngineConfig
      const context = yield* Effect.context<R>()
      const byQueue = index(handlers)
      const pools: Array<PoolHandle> = []
      for (const queue of config.queues) {
        const queueHandlers = byQueue.get(queue.queue)
        if (queueHandlers === undefined) {
          yield* Effect.logWarning(`QUEUES names queue ${queue.queue}, but no job kind runs on it`)
          continue
        }
        pools.push(yield* makePool(queue, queueHandlers, context))
      }
      const configured = new Set(config.queues.map((q) => q.queue))
      for (const queue of byQueue.keys()) {
        if (!configured.has(queue)) yield* Effect.logInfo(`queue ${queue} has no pool in this process (QUEUES)`)
      }
      yield* Effect.logInfo(`worker pools: ${pools.map((p) => p.queue).join(", ") || "none"}`)
      yield* Effect.addFinalizer(() => Effect.forEach(pools, (pool) => pool.drain(config.shutdownGrace), { concurrency: "unbounded", discard: true }))
    })
  )

export interface EngineOptions<R> {
  readonly role: string
  readonly handlers: ReadonlyArray<JobHandler<R>>
  readonly crons?: ReadonlyArray<CronDefinition> | undefined
}

/** The LISTEN notifier, its loop supervised as the `notifier` actor (every echoed probe is a heartbeat). */
export const NotifierLive = Notifier.layer((listen) => spawnActor("notifier", listen), { onAlive: beat, declareWait })

/** The engine on a Notifier provided from outside (the application shares one with its event streams). */
export const EngineCoreLive = <R>(options: EngineOptions<R>) =>
  Layer.mergeAll(WorkerPoolsLive(options.handlers), CronSchedulerLive(options.crons ?? []), RescuerLive, PromoterLive, RetentionLive).pipe(
    Layer.provideMerge(Layer.merge(CompleterLive, QueuePausesLive)),
    Layer.provideMerge(ProcessIdentityLive(options.role)),
    Layer.provideMerge(Layer.mergeAll(JobStore.Default, ProcessRegistry.Default, EngineControls.Default, EngineConfigLive))
  )

/** Requires SqlClient and DatabaseUrl (infra/db) and whatever the handlers need. */
export const EngineLive = <R>(options: EngineOptions<R>) => EngineCoreLive(options).pipe(Layer.provideMerge(NotifierLive))
