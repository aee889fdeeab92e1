/**
 * The metrics read at scrape time: actor restarts and heartbeat ages from the
 * health registry, queue depth and the oldest due job's age from Postgres (one
 * statement), the slots held by leases (one more), which queues operators
 * paused, the runners each queue has across the live processes and the oldest
 * process heartbeat, and this process's database pool usage. Gauges are reset
 * first, so a queue or actor that is gone stops being reported instead of
 * keeping its last value; the application's own queues are always reported,
 * as 0 when empty. Queue depth, leases and pauses are facts about the
 * database that every replica reports: aggregate them with `max`.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type CronDefinition, latestSlot, slotKey } from "../domain/jobs/CronDefinition.ts"
import { DatabasePool } from "../infra/db/Database.ts"
import { EngineControls } from "../infra/jobs/EngineControls.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../infra/jobs/ProcessRegistry.ts"
import { Metrics } from "../infra/observability/Metrics.ts"
import { EngineConfig, EngineConfigLive } from "./EngineConfig.ts"
import { HealthRegistry } from "./HealthRegistry.ts"

const DEPTH_STATES = ["available", "scheduled", "running", "retryable", "discarded"] as const

/** `queues`: the queues this application knows, reported (as 0) even while empty; `crons`: its schedules. */
export const MetricSourcesLive = (queues: ReadonlyArray<string>, crons: ReadonlyArray<CronDefinition> = []) => Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const registry = yield* HealthRegistry
    const store = yield* JobStore
    const controls = yield* EngineControls
    const processes = yield* ProcessRegistry

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
        metrics.jobsWaitingForSlot.reset()
        for (const queue of queues) {
          for (const state of DEPTH_STATES) metrics.jobQueueDepth.set({ queue, state }, 0)
          metrics.jobOldestAvailableAge.set({ queue }, 0)
          metrics.jobsWaitingForSlot.set({ queue }, 0)
        }
        for (const queue of stats) {
          for (const state of DEPTH_STATES) metrics.jobQueueDepth.set({ queue: queue.queue, state }, queue.counts[state] ?? 0)
          metrics.jobOldestAvailableAge.set({ queue: queue.queue }, queue.oldestAvailableAgeSeconds)
          metrics.jobsWaitingForSlot.set({ queue: queue.queue }, queue.waitingForSlot)
        }
      })
    )

    yield* metrics.addSource(
      "slot-leases",
      Effect.map(store.slotLeases, (n) => metrics.jobSlotLeases.set(n))
    )

    const pool = yield* Effect.serviceOption(DatabasePool)
    if (Option.isSome(pool)) {
      yield* metrics.addSource(
        "db-pool",
        Effect.map(pool.value.usage, (usage) => {
          metrics.dbPoolConnections.set({ state: "in_use" }, usage.inUse)
          metrics.dbPoolConnections.set({ state: "idle" }, usage.idle)
          metrics.dbPoolConnections.set({ state: "waiting" }, usage.waiting)
          metrics.dbPoolConnections.set({ state: "max" }, usage.max)
        })
      )
    }

    const { staleAfter, retention } = yield* EngineConfig
    yield* metrics.addSource(
      "processes",
      Effect.map(Effect.zip(processes.list, Clock.currentTimeMillis), ([rows, now]) => {
        const live = rows.filter((row) => now - row.heartbeatAt.getTime() <= Duration.toMillis(staleAfter))
        metrics.queueRunners.reset()
        for (const queue of queues) metrics.queueRunners.set({ queue }, 0)
        const runners = new Map<string, number>()
        for (const row of live) for (const [queue, load] of Object.entries(row.queues)) runners.set(queue, (runners.get(queue) ?? 0) + load.concurrency)
        for (const [queue, n] of runners) metrics.queueRunners.set({ queue }, n)
        metrics.processHeartbeatAge.set(rows.reduce((oldest, row) => Math.max(oldest, (now - row.heartbeatAt.getTime()) / 1000), 0))
      })
    )

    if (crons.length > 0) {
      yield* metrics.addSource(
        "crons",
        Effect.gen(function* () {
          const now = new Date(yield* Clock.currentTimeMillis)
          const slots = crons.map((cron) => ({ cron, slot: latestSlot(cron.schedule, now) }))
          const [states, enqueued] = yield* Effect.all([controls.cronControls, controls.enqueuedKeys(slots.map(({ cron, slot }) => slotKey(cron.name, slot)))], { concurrency: 2 })
          for (const { cron, slot } of slots) {
            const enabled = states.get(cron.name)?.enabled ?? true
            // a slot that came while the schedule was disabled was skipped on purpose
            const skipped = states.get(cron.name)?.updatedAt.getTime() ?? 0
            // a slot's job older than JOB_RETENTION may be deleted already: no verdict
            const known = now.getTime() - slot.getTime() < Duration.toMillis(retention)
            const missed = enabled && known && slot.getTime() >= skipped && !enqueued.has(slotKey(cron.name, slot))
            metrics.cronOverdue.set({ cron: cron.name }, missed ? (now.getTime() - slot.getTime()) / 1000 : 0)
          }
        })
      )
    }

    yield* metrics.addSource(
      "paused-queues",
      Effect.map(controls.pausedQueues, (paused) => {
        metrics.queuePaused.reset()
        for (const queue of queues) metrics.queuePaused.set({ queue }, 0)
        for (const queue of paused.keys()) metrics.queuePaused.set({ queue }, 1)
      })
    )
  })
).pipe(Layer.provide(EngineConfigLive))
