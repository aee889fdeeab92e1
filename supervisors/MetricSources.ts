/**
 * The metrics read at scrape time: actor restarts and heartbeat ages from the
 * health registry, queue depth and the oldest due job's age from Postgres (one
 * statement), and which queues operators paused. Gauges are reset first, so a
 * queue or actor that is gone stops being reported instead of keeping its last
 * value; the application's own queues are always reported, as 0 when empty.
 * Queue depth and pauses are facts about the database that every replica
 * reports: aggregate them with `max by (queue)`.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { EngineControls } from "../infra/jobs/EngineControls.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { Metrics } from "../infra/observability/Metrics.ts"
import { HealthRegistry } from "./HealthRegistry.ts"

const DEPTH_STATES = ["available", "scheduled", "running", "retryable", "discarded"] as const

/** `queues`: the queues this application knows, reported (as 0) even while empty. */
export const MetricSourcesLive = (queues: ReadonlyArray<string>) => Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const registry = yield* HealthRegistry
    const store = yield* JobStore
    const controls = yield* EngineControls

    yield* metrics.addSource(
      "actors",
      Effect.map(registry.report, (reports) => {
        // counters cannot be set: the registry holds the totals, the counter is rebuilt from them
        metrics.actorRestarts.reset()
        metrics.actorHeartbeatAge.reset()
        for (const report of reports) {
          metrics.actorRestarts.inc({ actor: report.name }, report.restarts)
          if (report.running) metrics.actorHeartbeatAge.set({ actor: report.name }, report.heartbeatAgeSeconds)
        }
      })
    )

    yield* metrics.addSource(
      "queues",
      Effect.map(store.queueStats, (stats) => {
        metrics.jobQueueDepth.reset()
        metrics.jobOldestAvailableAge.reset()
        for (const queue of queues) {
          for (const state of DEPTH_STATES) metrics.jobQueueDepth.set({ queue, state }, 0)
          metrics.jobOldestAvailableAge.set({ queue }, 0)
        }
        for (const queue of stats) {
          for (const state of DEPTH_STATES) metrics.jobQueueDepth.set({ queue: queue.queue, state }, queue.counts[state] ?? 0)
          metrics.jobOldestAvailableAge.set({ queue: queue.queue }, queue.oldestAvailableAgeSeconds)
        }
      })
    )

    yield* metrics.addSource(
      "paused-queues",
      Effect.map(controls.pausedQueues, (paused) => {
        metrics.queuePaused.reset()
        for (const queue of queues) metrics.queuePaused.set({ queue }, 0)
        for (const queue of paused.keys()) metrics.queuePaused.set({ queue }, 1)
      })
    )
  })
)
