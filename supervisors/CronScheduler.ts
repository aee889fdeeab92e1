/**
 * Cron: every process computes each schedule's slots and enqueues each slot
 * with the unique key `cron:<name>:<slot>`; the unique index lets exactly one
 * insert win, so N replicas run a slot once without a leader. On start, the
 * latest slot missed while everything was down is enqueued if it is within
 * `CRON_CATCHUP_WINDOW` (at most one per schedule).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type CronDefinition, catchUpSlot, nextSlot, slotKey } from "../domain/jobs/CronDefinition.ts"
import { enqueue } from "../infra/jobs/Jobs.ts"
import { sleep, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"

/** Enqueues one slot; true when this call inserted it (false: another process already had). */
export const enqueueSlot = (cron: CronDefinition, slot: Date) =>
  enqueue(cron.job, cron.args, { runAt: slot, uniqueKey: slotKey(cron.name, slot) }).pipe(
    Effect.map((inserted) => !inserted.duplicate),
    Effect.tap((inserted) => (inserted ? Effect.logDebug(`cron ${cron.name}: enqueued ${slot.toISOString()}`) : Effect.void))
  )

/** Runs one schedule: catch up, then sleep to each next slot and enqueue it. */
export const runSchedule = (cron: CronDefinition, catchUp: Duration.Duration) =>
  Effect.gen(function* () {
    const start = new Date(yield* Clock.currentTimeMillis)
    const missed = catchUpSlot(cron.schedule, start, catchUp)
    if (missed !== undefined) yield* enqueueSlot(cron, missed)
    let after = start
    for (;;) {
      const slot = nextSlot(cron.schedule, after)
      const now = yield* Clock.currentTimeMillis
      yield* sleep(Duration.millis(Math.max(0, slot.getTime() - now)))
      yield* enqueueSlot(cron, slot)
      after = slot
    }
  })

export const CronSchedulerLive = (crons: ReadonlyArray<CronDefinition>) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const { cronCatchUp } = yield* EngineConfig
      const names = new Set<string>()
      for (const cron of crons) {
        if (names.has(cron.name)) return yield* Effect.dieMessage(`two cron schedules named ${cron.name}`)
        names.add(cron.name)
        yield* spawnActor(`cron:${cron.name}`, runSchedule(cron, cronCatchUp))
      }
    })
  )
