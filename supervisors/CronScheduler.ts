/**
 * Cron: every process computes each schedule's slots and enqueues each slot
 * with the unique key `cron:<name>:<slot>`; the unique index lets exactly one
 * insert win, so N replicas run a slot once without a leader. On start, the
 * latest slot missed while everything was down is enqueued if it is within
 * `CRON_CATCHUP_WINDOW` (at most one per schedule).
 *
 * Operators' controls (infra/jobs/EngineControls.ts): each slot is enqueued
 * only if its schedule is enabled when the slot comes, read from the database
 * then, so a disabled schedule runs nothing in any process. A catch-up slot
 * also must not be older than the schedule's last change of state, so a slot
 * skipped while disabled is never caught up later. `runNow` enqueues the job
 * outside the schedule, under a key of its own.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { type CronDefinition, catchUpSlot, nextSlot, slotKey } from "../domain/jobs/CronDefinition.ts"
import { EngineControls } from "../infra/jobs/EngineControls.ts"
import { enqueue } from "../infra/jobs/Jobs.ts"
import { sleep, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"

/** Enqueues one slot; true when this call inserted it (false: another process already had). */
export const enqueueSlot = (cron: CronDefinition, slot: Date) =>
  enqueue(cron.job, cron.args, { runAt: slot, uniqueKey: slotKey(cron.name, slot) }).pipe(
    Effect.map((inserted) => !inserted.duplicate),
    Effect.tap((inserted) => (inserted ? Effect.logDebug(`cron ${cron.name}: enqueued ${slot.toISOString()}`) : Effect.void))
  )

/**
 * Enqueues one slot if its schedule is enabled now; true when this call inserted it. A
 * catch-up slot also must not predate the schedule's last change of state (a slot missed
 * while it was disabled stays missed).
 */
export const enqueueSlotIfEnabled = (cron: CronDefinition, slot: Date, catchingUp = false) =>
  Effect.flatMap(EngineControls, (controls) => controls.cronControl(cron.name)).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => enqueueSlot(cron, slot),
        onSome: (control) =>
          control.enabled && !(catchingUp && control.updatedAt.getTime() > slot.getTime())
            ? enqueueSlot(cron, slot)
            : Effect.as(Effect.logDebug(`cron ${cron.name}: ${slot.toISOString()} skipped (disabled)`), false)
      })
    )
  )

/** Runs one schedule: catch up, then sleep to each next slot and enqueue it (each if the schedule is enabled then). */
export const runSchedule = (cron: CronDefinition, catchUp: Duration.Duration) =>
  Effect.gen(function* () {
    const start = new Date(yield* Clock.currentTimeMillis)
    const missed = catchUpSlot(cron.schedule, start, catchUp)
    if (missed !== undefined) yield* enqueueSlotIfEnabled(cron, missed, true)
    let after = start
    for (;;) {
      const slot = nextSlot(cron.schedule, after)
      const now = yield* Clock.currentTimeMillis
      yield* sleep(Duration.millis(Math.max(0, slot.getTime() - now)))
      yield* enqueueSlotIfEnabled(cron, slot)
      after = slot
    }
  })

/** The unique key of an operator's run of a schedule outside its slots. */
export const manualRunKey = (name: string): string => `cron:${name}:manual:${randomUUID()}`

/**
 * Enqueues the schedule's job with its arguments to run now, whether or not the schedule is
 * enabled, leaving its slots as they are. Returns the inserted job.
 */
export const runNow = <A, I>(cron: CronDefinition<A, I>) => enqueue(cron.job, cron.args, { uniqueKey: manualRunKey(cron.name) })

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
