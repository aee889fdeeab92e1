/**
 * The heartbeat and an operator's drain request, against real Postgres: the
 * beat that finds the request starts this process's shutdown through
 * ProcessStop (here a double: the default signals the process), and only once
 * while the heartbeat goes on.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { EngineControls } from "../../infra/jobs/EngineControls.ts"
import { EngineConfigLive } from "../../supervisors/EngineConfig.ts"
import { HealthRegistryLive } from "../../supervisors/HealthRegistry.ts"
import { ProcessIdentity, ProcessIdentityLive } from "../../supervisors/ProcessIdentity.ts"
import { ProcessStop } from "../../supervisors/ProcessStop.ts"
import { cloneDatabase, eventually, query, storeLayer } from "../support/database.ts"

const config = ConfigProvider.fromMap(new Map([["HEARTBEAT_INTERVAL", "100ms"], ["PROCESS_STALE_AFTER", "5s"]]))

describe("a drain request seen by the heartbeat", () => {
  let url: string
  const stops: Array<string> = []
  const runtimeOf = (dbUrl: string) =>
    ManagedRuntime.make(
      ProcessIdentityLive("test").pipe(
        Layer.provide(Layer.succeed(ProcessStop, { stop: (reason) => Effect.sync(() => stops.push(reason)) })),
        Layer.provide(Layer.mergeAll(EngineConfigLive.pipe(Layer.provide(Layer.setConfigProvider(config))), HealthRegistryLive)),
        Layer.provideMerge(EngineControls.Default),
        Layer.provideMerge(storeLayer(dbUrl, 3))
      )
    )
  let runtime: ReturnType<typeof runtimeOf>

  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = runtimeOf(url)
  })
  afterAll(() => runtime?.dispose())

  /** Resolves once this process's row has been refreshed `n` more times. */
  const beats = async (id: string, n: number) => {
    const read = async () => (await query<{ at: Date }>(url, "SELECT heartbeat_at AS at FROM processes WHERE id = $1", [id]))[0]?.at.getTime() ?? 0
    let last = await read()
    for (let seen = 0; seen < n; seen++) {
      last = await eventually(async () => {
        const at = await read()
        return at > last ? at : undefined
      }, 5_000, "a heartbeat")
    }
  }

  it("starts the shutdown at the first beat after the request, once", async () => {
    const self = await runtime.runPromise(ProcessIdentity)
    await beats(self.id, 2)
    expect(stops).toEqual([]) // beating alone stops nothing
    const requestedAt = Date.now()
    expect(await runtime.runPromise(Effect.flatMap(EngineControls, (c) => c.requestDrain(self.id, "ada")))).toBe(true)
    await eventually(async () => (stops.length > 0 ? true : undefined), 2_000, "the stop action")
    expect(Date.now() - requestedAt).toBeLessThan(2_000)
    expect(stops).toEqual(["an operator asked this process to drain"])
    await beats(self.id, 3) // the heartbeat goes on while the process drains, and asks no second time
    expect(stops).toHaveLength(1)
  })
})
