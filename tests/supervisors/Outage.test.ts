/**
 * The database goes away for longer than the stale timeout, then comes back:
 * the engine keeps running, nobody is presumed dead for it, and work enqueued
 * meanwhile runs once the database answers again.
 */
import { Metrics } from "../../infra/observability/Metrics.ts"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { HealthRegistryLive } from "../../supervisors/HealthRegistry.ts"
import { EngineLive } from "../../supervisors/Worker.ts"
import { cloneDatabase, databaseLayer, eventually, query, storeRuntime } from "../support/database.ts"
import { type FreezableProxy, startProxy } from "../support/proxy.ts"

const Tick = defineJob({ kind: "outage.tick", args: Schema.Struct({ n: Schema.Number }) })

describe("a database outage longer than the stale timeout", () => {
  let url: string
  let proxy: FreezableProxy
  let engine: ManagedRuntime.ManagedRuntime<never, unknown>
  const logs: Array<string> = []
  const ran: Array<number> = []

  beforeAll(async () => {
    url = await cloneDatabase()
    proxy = await startProxy(url)
    const config = ConfigProvider.fromMap(
      new Map([
        ["QUEUES", "default:2"],
        ["HEARTBEAT_INTERVAL", "200ms"],
        ["PROCESS_STALE_AFTER", "1s"],
        ["JOB_POLL_INTERVAL", "200ms"],
        ["SHUTDOWN_GRACE", "1s"]
      ])
    )
    const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message))))
    const handlers = [handle(Tick, (args) => Effect.sync(() => ran.push(args.n)))]
    engine = ManagedRuntime.make(
      EngineLive({ role: "test", handlers }).pipe(Layer.provide(HealthRegistryLive), Layer.provide(Metrics.Default), Layer.provide(databaseLayer(proxy.url, 4)), Layer.provide(Layer.setConfigProvider(config)), Layer.provide(capture))
    )
    await engine.runPromise(Effect.void)
  })
  afterAll(async () => {
    await engine.dispose()
    await proxy.close()
  })

  it("does not rescue live processes' jobs, and runs what was enqueued meanwhile", async () => {
    const direct = storeRuntime(url) // enqueues bypass the proxy, like another app instance
    await direct.runPromise(enqueue(Tick, { n: 1 }))
    await eventually(async () => (ran.includes(1) ? true : undefined), 10_000, "the first job")

    proxy.cut()
    await new Promise((resolve) => setTimeout(resolve, 3_000)) // three times the stale timeout
    await direct.runPromise(enqueue(Tick, { n: 2 }))
    proxy.restore()

    await eventually(async () => (ran.includes(2) ? true : undefined), 20_000, "the job enqueued during the outage")
    await new Promise((resolve) => setTimeout(resolve, 1_000)) // a few rescue passes after recovery
    expect(logs.some((line) => line.includes("presumed dead"))).toBe(false)
    expect(logs.some((line) => line.includes("database reachable again"))).toBe(true)
    const rows = await query<{ state: string; n: number }>(url, "SELECT state, count(*)::int AS n FROM jobs GROUP BY state")
    expect(rows).toEqual([{ state: "completed", n: 2 }])
    expect(ran.sort()).toEqual([1, 2])
    await direct.dispose()
  }, 60_000)
})
