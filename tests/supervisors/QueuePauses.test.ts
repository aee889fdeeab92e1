/**
 * Pausing a queue across processes: two engines (each with its own pools,
 * notifier and process row) share one database. A pause stops both from
 * starting any more of the queue's jobs within a second (what they hold
 * unstarted goes back), running jobs finish, another queue goes on, and a
 * resume has both claim again. Pauses written without a notification (a
 * missed one) are picked up by the poll.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { EngineControls } from "../../infra/jobs/EngineControls.ts"
import { enqueue, enqueueMany } from "../../infra/jobs/Jobs.ts"
import { HealthRegistryLive } from "../../supervisors/HealthRegistry.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { EngineLive } from "../../supervisors/Worker.ts"
import { cloneDatabase, eventually, query, storeLayer } from "../support/database.ts"

const Held = defineJob({ kind: "pause.held", queue: "alpha", args: Schema.Struct({}), maxAttempts: 3 })
const Quick = defineJob({ kind: "pause.quick", queue: "beta", args: Schema.Struct({}) })

/** Jobs of `alpha` started so far (in either engine), and the gate that lets them finish. */
const started: Array<string> = []
let open: () => void = () => {}
let gate = new Promise<void>((resolve) => (open = resolve))
const closeGate = () => {
  gate = new Promise<void>((resolve) => (open = resolve))
}

const handlers = [
  handle(Held, (_, job) => Effect.sync(() => started.push(job.id)).pipe(Effect.zipRight(Effect.promise(() => gate)))),
  handle(Quick, () => Effect.void)
]

// One runner and two prefetched per engine on `alpha`. The pools' own poll is long, so the
// paused-queue poll is min(30 s, 1 s) = 1 s, and claims follow notifications.
const config = ConfigProvider.fromMap(
  new Map([
    ["QUEUES", "alpha:1:2,beta:2"],
    ["HEARTBEAT_INTERVAL", "200ms"],
    ["PROCESS_STALE_AFTER", "5s"],
    ["JOB_POLL_INTERVAL", "30s"],
    ["SHUTDOWN_GRACE", "1s"]
  ])
)

const operatorOf = (url: string) => ManagedRuntime.make(EngineControls.Default.pipe(Layer.provideMerge(storeLayer(url, 2))))

const engine = (url: string) =>
  ManagedRuntime.make(
    EngineLive({ role: "test", handlers }).pipe(Layer.provide(HealthRegistryLive), Layer.provide(Layer.setConfigProvider(config)), Layer.provide(storeLayer(url, 4)))
  )

describe("pausing a queue with two engines on one database", () => {
  let url: string
  let engines: ReadonlyArray<ReturnType<typeof engine>> = []
  let operator: ReturnType<typeof operatorOf>

  beforeAll(async () => {
    url = await cloneDatabase()
    operator = operatorOf(url)
    engines = [engine(url), engine(url)]
    await Promise.all(engines.map((e) => e.runPromise(Effect.void)))
  })
  afterAll(async () => {
    open()
    await Promise.all(engines.map((e) => e.dispose()))
    await operator?.dispose()
  })

  const states = async (queue: string): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await query<{ state: string; n: number }>(url, "SELECT state, count(*)::int AS n FROM jobs WHERE queue = $1 GROUP BY state", [queue])).map((r) => [r.state, r.n])
    )
  const statesReach = async (queue: string, expected: Record<string, number>, timeoutMs: number) => {
    let last: Record<string, number> = {}
    const wanted = JSON.stringify(Object.fromEntries(Object.entries(expected).sort()))
    const reached = async () => {
      last = await states(queue)
      return JSON.stringify(Object.fromEntries(Object.entries(last).sort())) === wanted ? last : undefined
    }
    return eventually(reached, timeoutMs, `${queue} to be ${wanted}`).catch((error: Error) => {
      throw new Error(`${error.message}; it was ${JSON.stringify(last)}`)
    })
  }
  /** Both engines still claim and run `beta` (a witness that time passed with claims going on). */
  const betaRuns = async () => {
    const before = (await states("beta")).completed ?? 0
    await operator.runPromise(enqueueMany(Quick, [{ args: {} }, { args: {} }]))
    await statesReach("beta", { completed: before + 2 }, 10_000)
  }
  /** Six held jobs: each engine runs one and holds two more unstarted. */
  const fillBothEngines = async () => {
    await operator.runPromise(enqueueMany(Held, Array.from({ length: 6 }, () => ({ args: {} }))))
    await statesReach("alpha", { running: 6 }, 10_000)
    await eventually(async () => (started.length === 2 ? true : undefined), 10_000, "one held job started per engine")
    const holders = await query<{ n: number }>(url, "SELECT count(DISTINCT locked_by)::int AS n FROM jobs WHERE state = 'running'")
    expect(holders).toEqual([{ n: 2 }])
  }

  it("pause: within a second neither engine starts another job of the queue; running ones finish; resume runs the rest", async () => {
    await fillBothEngines()
    const pausedAt = Date.now()
    await operator.runPromise(Effect.flatMap(EngineControls, (c) => c.pauseQueue("alpha", "ada")))
    // the four held unstarted go back (attempt refunded); the two running go on
    await statesReach("alpha", { available: 4, running: 2 }, 1_000)
    expect(Date.now() - pausedAt).toBeLessThan(1_000)
    expect(await query(url, "SELECT attempt FROM jobs WHERE state = 'available'")).toEqual(Array.from({ length: 4 }, () => ({ attempt: 0 })))

    // a new job of the paused queue wakes both pools: neither claims it, while beta still runs
    await operator.runPromise(enqueue(Held, {}))
    await betaRuns()
    open()
    await statesReach("alpha", { available: 5, completed: 2 }, 10_000)
    await betaRuns()
    expect(await states("alpha")).toEqual({ available: 5, completed: 2 })
    expect(started).toHaveLength(2)

    await operator.runPromise(Effect.flatMap(EngineControls, (c) => c.resumeQueue("alpha", "ada")))
    await statesReach("alpha", { completed: 7 }, 5_000)
    // nothing failed: the held ones went back as hand-backs, with no error recorded
    expect(await query(url, "SELECT id FROM jobs WHERE queue = 'alpha' AND errors <> '[]'::jsonb")).toEqual([])
  })

  it("a pause or resume whose notification is missed is picked up by the poll within a second", async () => {
    closeGate()
    started.length = 0
    await query(url, "TRUNCATE jobs")
    await fillBothEngines()
    // written by hand: no NOTIFY reaches the engines
    const pausedAt = Date.now()
    await query(url, "INSERT INTO paused_queues (queue, paused_by) VALUES ('alpha', 'by hand')")
    await statesReach("alpha", { available: 4, running: 2 }, 2_000)
    expect(Date.now() - pausedAt).toBeLessThan(2_000) // the 1 s poll, with room for a loaded machine
    open()
    await statesReach("alpha", { available: 4, completed: 2 }, 10_000)
    const resumedAt = Date.now()
    await query(url, "DELETE FROM paused_queues WHERE queue = 'alpha'")
    await statesReach("alpha", { completed: 6 }, 3_000)
    expect(Date.now() - resumedAt).toBeLessThan(3_000)
    expect(started).toHaveLength(6)
  })
})
