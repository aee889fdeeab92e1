/**
 * The cron scheduler under operators' controls, against real Postgres: a
 * disabled schedule enqueues no slot (nor a catch-up of one it skipped), an
 * enabled one goes on, and "run now" enqueues the job outside the slots.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type CronDefinition, defineCron, nextSlot } from "../../domain/jobs/CronDefinition.ts"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { EngineControls } from "../../infra/jobs/EngineControls.ts"
import { CronSchedulerLive, enqueueSlotIfEnabled, runNow } from "../../supervisors/CronScheduler.ts"
import { EngineConfigLive } from "../../supervisors/EngineConfig.ts"
import { HealthRegistryLive } from "../../supervisors/HealthRegistry.ts"
import { cloneDatabase, eventually, query, storeLayer } from "../support/database.ts"

const Tick = defineJob({ kind: "cron.tick", queue: "crons", args: Schema.Struct({ from: Schema.String }) })
const everySecond = (name: string) => defineCron({ name, schedule: "* * * * * *", job: Tick, args: { from: name } }) as CronDefinition
const yearly = defineCron({ name: "yearly", schedule: "0 0 1 1 *", job: Tick, args: { from: "yearly" } })

const config = ConfigProvider.fromMap(new Map([["CRON_CATCHUP_WINDOW", "1 hour"]]))

describe("cron schedules under operators' controls", () => {
  let url: string
  const runtimeOf = (dbUrl: string) => ManagedRuntime.make(EngineControls.Default.pipe(Layer.provideMerge(storeLayer(dbUrl, 3))))
  let runtime: ReturnType<typeof runtimeOf>

  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = runtimeOf(url)
  })
  afterAll(() => runtime?.dispose())
  beforeEach(() => query(url, "TRUNCATE jobs, cron_controls"))

  const keysOf = async (name: string) =>
    (await query<{ unique_key: string }>(url, "SELECT unique_key FROM jobs WHERE unique_key LIKE $1 ORDER BY id", [`cron:${name}:%`])).map((r) => r.unique_key)
  const setEnabled = (name: string, enabled: boolean) => runtime.runPromise(Effect.flatMap(EngineControls, (c) => c.setCronEnabled(name, enabled, "ada")))

  it("a slot of a disabled schedule is not enqueued; enabled again, the next one is", async () => {
    const cron = everySecond("gated")
    const slot = new Date("2031-05-01T10:00:00.000Z")
    await setEnabled("gated", false)
    expect(await runtime.runPromise(enqueueSlotIfEnabled(cron, slot))).toBe(false)
    expect(await keysOf("gated")).toEqual([])
    await setEnabled("gated", true)
    expect(await runtime.runPromise(enqueueSlotIfEnabled(cron, slot))).toBe(true)
    expect(await keysOf("gated")).toEqual([`cron:gated:${slot.toISOString()}`])
  })

  it("a catch-up slot from before the schedule was enabled again is not run; a later one is", async () => {
    const cron = everySecond("caught")
    const before = new Date(Date.now() - 60_000)
    await setEnabled("caught", false)
    await setEnabled("caught", true)
    expect(await runtime.runPromise(enqueueSlotIfEnabled(cron, before, true))).toBe(false)
    const after = new Date(Date.now() + 60_000)
    expect(await runtime.runPromise(enqueueSlotIfEnabled(cron, after, true))).toBe(true)
    expect(await keysOf("caught")).toEqual([`cron:caught:${after.toISOString()}`])
    // never changed by an operator: caught up as before
    expect(await runtime.runPromise(enqueueSlotIfEnabled(everySecond("plain"), before, true))).toBe(true)
  })

  it("the scheduler enqueues no slot of a disabled schedule while an enabled one goes on, and skipped slots are not caught up", async () => {
    await setEnabled("off", false)
    const scheduler = ManagedRuntime.make(
      CronSchedulerLive([everySecond("on"), everySecond("off")]).pipe(
        Layer.provide(Layer.mergeAll(EngineConfigLive.pipe(Layer.provide(Layer.setConfigProvider(config))), HealthRegistryLive)),
        Layer.provide(EngineControls.Default.pipe(Layer.provideMerge(storeLayer(url, 3))))
      )
    )
    try {
      await scheduler.runPromise(Effect.void)
      await eventually(async () => ((await keysOf("on")).length >= 3 ? true : undefined), 10_000, "three slots of the enabled schedule")
      expect(await keysOf("off")).toEqual([])
      const enabledAt = Date.now()
      await setEnabled("off", true)
      await eventually(async () => ((await keysOf("off")).length >= 2 ? true : undefined), 10_000, "slots once enabled")
      for (const key of await keysOf("off")) expect(Date.parse(key.slice("cron:off:".length))).toBeGreaterThanOrEqual(enabledAt - 1_000)
      // a manual run in between leaves the slots as they were: the next ones still come, each on its second
      const manualAt = Date.now()
      await runtime.runPromise(runNow(everySecond("on")))
      const slotsAfter = async () =>
        (await keysOf("on")).filter((key) => !key.includes(":manual:")).map((key) => Date.parse(key.slice("cron:on:".length))).filter((at) => at > manualAt)
      const later = await eventually(async () => ((await slotsAfter()).length >= 2 ? slotsAfter() : undefined), 10_000, "slots after the manual run")
      for (const at of later) expect(at % 1_000).toBe(0)
      expect(later[1]! - later[0]!).toBe(1_000)
    } finally {
      await scheduler.dispose()
    }
  })

  it("run now enqueues the schedule's job with its arguments at once, under a key of its own, disabled or not; the next slot is unchanged", async () => {
    await setEnabled("yearly", false)
    const nextBefore = nextSlot(yearly.schedule, new Date())
    const inserted = await runtime.runPromise(runNow(yearly))
    const [job] = await query<{ unique_key: string; state: string; args: unknown; kind: string; run_at: Date }>(
      url,
      "SELECT unique_key, state, args, kind, run_at FROM jobs WHERE id = $1",
      [inserted.id]
    )
    expect(job).toMatchObject({ state: "available", args: { from: "yearly" }, kind: "cron.tick" })
    expect(job?.unique_key).toMatch(/^cron:yearly:manual:[0-9a-f-]{36}$/)
    expect(Math.abs((job?.run_at.getTime() ?? 0) - Date.now())).toBeLessThan(5_000)
    // a second run is another job; no slot was enqueued, and the schedule's next slot is where it was
    const again = await runtime.runPromise(runNow(yearly))
    expect(again.id).not.toBe(inserted.id)
    expect((await keysOf("yearly")).filter((key) => !key.startsWith("cron:yearly:manual:"))).toEqual([])
    expect(nextSlot(yearly.schedule, new Date())).toEqual(nextBefore)
    const runs = await runtime.runPromise(Effect.flatMap(EngineControls, (c) => c.lastCronRuns(["yearly"])))
    expect(runs.get("yearly")?.jobId).toBe(again.id)
  })
})
