/** The engine in one process against real Postgres: how each kind of handler ending is recorded and retried. */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { Permanent, Retryable, Snooze } from "../../domain/jobs/JobErrors.ts"
import { backoff } from "../../domain/jobs/RetryPolicy.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import type { JobRecord } from "../../infra/jobs/JobRecords.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../infra/jobs/ProcessRegistry.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { HealthRegistryLive } from "../../supervisors/HealthRegistry.ts"
import { EngineLive } from "../../supervisors/Worker.ts"
import { cloneDatabase, eventually, storeLayer } from "../support/database.ts"

const fastRetry = backoff("20 millis", "50 millis")
const Flaky = defineJob({ kind: "w.flaky", args: Schema.Struct({ failures: Schema.Number }), maxAttempts: 5, backoff: fastRetry })
const Doomed = defineJob({ kind: "w.doomed", args: Schema.Struct({}), maxAttempts: 5 })
const Slow = defineJob({ kind: "w.slow", args: Schema.Struct({}), maxAttempts: 2, timeout: "150 millis", backoff: fastRetry })
const Sleepy = defineJob({ kind: "w.sleepy", args: Schema.Struct({}), maxAttempts: 1 })
const Broken = defineJob({ kind: "w.broken", args: Schema.Struct({}), maxAttempts: 2, backoff: fastRetry })
const Typed = defineJob({ kind: "w.typed", args: Schema.Struct({ n: Schema.Number }), maxAttempts: 3 })
const Other = defineJob({ kind: "w.other", queue: "elsewhere", args: Schema.Struct({}) })

const snoozed = new Set<string>()
const handlers = [
  handle(Flaky, (args, job) => (job.attempt <= args.failures ? Effect.fail(new Retryable({ message: `try ${job.attempt}` })) : Effect.void)),
  handle(Doomed, () => Effect.fail(new Permanent({ message: "number does not exist" }))),
  handle(Slow, () => Effect.sleep("10 seconds")),
  handle(Sleepy, (_, job) =>
    snoozed.has(job.id) ? Effect.void : Effect.sync(() => snoozed.add(job.id)).pipe(Effect.zipRight(Effect.fail(Snooze.for("100 millis"))))
  ),
  handle(Broken, () => Effect.die(new Error("bug in handler"))),
  handle(Typed, () => Effect.void)
]

const config = ConfigProvider.fromMap(
  new Map([
    ["QUEUES", "default:4"],
    ["HEARTBEAT_INTERVAL", "200ms"],
    ["PROCESS_STALE_AFTER", "2s"],
    ["JOB_POLL_INTERVAL", "200ms"],
    ["SHUTDOWN_GRACE", "1s"]
  ])
)

describe("the engine in one process", () => {
  let runtime: ManagedRuntime.ManagedRuntime<JobStore | ProcessRegistry, unknown>
  beforeAll(async () => {
    const store = storeLayer(await cloneDatabase(), 6) // one pool for the engine and the test
    runtime = ManagedRuntime.make(
      EngineLive({ role: "test", handlers }).pipe(Layer.provide(HealthRegistryLive), Layer.provide(Layer.setConfigProvider(config)), Layer.provideMerge(store))
    )
    await runtime.runPromise(Effect.void)
  })
  afterAll(() => runtime.dispose())

  const settled = async (id: string, state: JobRecord["state"]) =>
    eventually(
      async () => {
        const job = Option.getOrUndefined(await runtime.runPromise(Effect.flatMap(JobStore, (s) => s.get(id))))
        return job?.state === state ? job : undefined
      },
      15_000,
      `job ${id} to be ${state}`
    )

  const add = <A, I>(job: Parameters<typeof enqueue<A, I>>[0], args: A) => runtime.runPromise(enqueue(job, args)).then((r) => r.id)

  it("retries a retryable failure with backoff and keeps every attempt's error", async () => {
    const job = await settled(await add(Flaky, { failures: 2 }), "completed")
    expect(job.attempt).toBe(3)
    expect(job.errors.map((e) => [e.attempt, e.kind, e.message])).toEqual([
      [1, "retryable", "try 1"],
      [2, "retryable", "try 2"]
    ])
  })

  it("dead-letters a permanent failure at once", async () => {
    const job = await settled(await add(Doomed, {}), "discarded")
    expect(job.attempt).toBe(1)
    expect(job.errors).toMatchObject([{ kind: "permanent", message: "number does not exist" }])
  })

  it("times out a slow handler, retries it, and discards it when attempts run out", async () => {
    const started = Date.now()
    const job = await settled(await add(Slow, {}), "discarded")
    expect(job.errors.map((e) => e.kind)).toEqual(["timeout", "timeout"])
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it("snoozes without spending an attempt", async () => {
    const job = await settled(await add(Sleepy, {}), "completed") // maxAttempts 1: a spent attempt would have discarded it
    expect(job.attempt).toBe(1)
    expect(job.errors).toEqual([])
  })

  it("counts a defect as retryable", async () => {
    const job = await settled(await add(Broken, {}), "discarded")
    expect(job.errors.map((e) => e.kind)).toEqual(["defect", "defect"])
    expect(job.errors[0]?.message).toContain("bug in handler")
  })

  it("discards stored arguments that no longer match the schema", async () => {
    const id = await runtime.runPromise(
      Effect.flatMap(JobStore, (s) => s.insert({ queue: "default", kind: "w.typed", args: { n: "not a number" }, priority: 2, maxAttempts: 3 }))
    )
    const job = await settled(id.id, "discarded")
    expect(job.errors[0]).toMatchObject({ kind: "permanent" })
    expect(job.errors[0]?.message).toContain("arguments do not match w.typed")
  })

  it("leaves jobs of queues it has no pool for, and publishes its pools' load", async () => {
    const id = await add(Other, {})
    await new Promise((resolve) => setTimeout(resolve, 500))
    const job = Option.getOrThrow(await runtime.runPromise(Effect.flatMap(JobStore, (s) => s.get(id))))
    expect(job.state).toBe("available")
    const processes = await runtime.runPromise(Effect.flatMap(ProcessRegistry, (r) => r.list))
    expect(processes).toHaveLength(1)
    expect(processes[0]?.queues.default?.concurrency).toBe(4)
  })
})
