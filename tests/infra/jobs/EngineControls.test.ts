/** The operators' controls against real Postgres: pauses (and the claims they stop), cron controls, last runs and drain requests. */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import pg from "pg"
import { expect } from "vitest"
import { defineJob } from "../../../domain/jobs/JobDefinition.ts"
import { CONTROLS_PAYLOAD, EngineControls } from "../../../infra/jobs/EngineControls.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import { JOBS_CHANNEL, JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { cloneDatabase, eventually, storeLayer } from "../../support/database.ts"

const Echo = defineJob({ kind: "controls.echo", queue: "controlled", args: Schema.Struct({}) })

let url = ""
const TestLayer = Layer.unwrapEffect(
  Effect.map(
    Effect.promise(async () => (url = await cloneDatabase())),
    (dbUrl) => EngineControls.Default.pipe(Layer.provideMerge(storeLayer(dbUrl)))
  )
)

const reset = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`TRUNCATE jobs, processes, paused_queues, cron_controls`)

const registered = Effect.gen(function* () {
  const id = randomUUID()
  yield* (yield* ProcessRegistry).register({ id, role: "test", hostname: "here", pid: 1, queues: {} })
  return id
})

/** Listens on the jobs channel with a client of its own; `received` lists the payloads heard so far. */
const listening = Effect.acquireRelease(
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const received: Array<string> = []
    client.on("notification", (message) => received.push(message.payload ?? ""))
    await client.query(`LISTEN ${JOBS_CHANNEL}`)
    return { client, received }
  }),
  ({ client }) => Effect.promise(() => client.end())
)

layer(TestLayer, { timeout: 60_000, excludeTestServices: true })("EngineControls", (it) => {
  it.scoped("pause and resume say whether they changed anything, and notify every process", () =>
    Effect.gen(function* () {
      yield* reset
      const controls = yield* EngineControls
      const { received } = yield* listening
      expect(yield* controls.pauseQueue("controlled", "ada")).toBe(true)
      expect(yield* controls.pauseQueue("controlled", "bob")).toBe(false)
      const paused = yield* controls.pausedQueues
      expect([...paused.keys()]).toEqual(["controlled"])
      expect(paused.get("controlled")).toMatchObject({ pausedBy: "ada", pausedAt: expect.any(Date) })
      expect(yield* controls.resumeQueue("controlled", "ada")).toBe(true)
      expect(yield* controls.resumeQueue("controlled", "ada")).toBe(false)
      expect((yield* controls.pausedQueues).size).toBe(0)
      // one control notice per change, and the resume wakes the queue's pools
      yield* Effect.promise(() =>
        eventually(async () => (received.length >= 3 ? true : undefined), 5_000, "three notifications")
      )
      expect(received).toEqual([CONTROLS_PAYLOAD, CONTROLS_PAYLOAD, "controlled"])
    })
  )

  it.effect("a paused queue's jobs are not claimed, by any process, until it is resumed", () =>
    Effect.gen(function* () {
      yield* reset
      const controls = yield* EngineControls
      const store = yield* JobStore
      const processId = yield* registered
      const job = yield* enqueue(Echo, {})
      yield* controls.pauseQueue("controlled", "ada")
      expect(yield* store.claim("controlled", [Echo.kind], 10, processId, "30 seconds")).toEqual([])
      expect(Option.getOrThrow(yield* store.get(job.id))).toMatchObject({ state: "available", attempt: 0 })
      yield* controls.pauseQueue("elsewhere", "ada") // another queue's pause changes nothing here
      yield* controls.resumeQueue("controlled", "ada")
      const claimed = yield* store.claim("controlled", [Echo.kind], 10, processId, "30 seconds")
      expect(claimed.map((c) => c.id)).toEqual([job.id])
    })
  )

  it.effect("cron controls: disabling writes who and when; enabling a schedule nobody disabled writes nothing", () =>
    Effect.gen(function* () {
      yield* reset
      const controls = yield* EngineControls
      expect(yield* controls.setCronEnabled("nightly", true, "ada")).toBe(false)
      expect((yield* controls.cronControls).size).toBe(0)
      expect(Option.isNone(yield* controls.cronControl("nightly"))).toBe(true)
      expect(yield* controls.setCronEnabled("nightly", false, "ada")).toBe(true)
      expect(yield* controls.setCronEnabled("nightly", false, "bob")).toBe(false)
      const disabled = Option.getOrThrow(yield* controls.cronControl("nightly"))
      expect(disabled).toMatchObject({ enabled: false, updatedBy: "ada" })
      expect(yield* controls.setCronEnabled("nightly", true, "bob")).toBe(true)
      const enabled = (yield* controls.cronControls).get("nightly")
      expect(enabled).toMatchObject({ enabled: true, updatedBy: "bob" })
      expect(enabled?.updatedAt.getTime()).toBeGreaterThanOrEqual(disabled.updatedAt.getTime())
    })
  )

  it.effect("the last run of a schedule is its newest job, slot or manual, and other schedules' jobs do not count", () =>
    Effect.gen(function* () {
      yield* reset
      const controls = yield* EngineControls
      const store = yield* JobStore
      yield* enqueue(Echo, {}, { uniqueKey: "cron:nightly:2030-01-01T00:00:00.000Z", runAt: new Date("2030-01-01T00:00:00.000Z") })
      const manual = yield* enqueue(Echo, {}, { uniqueKey: "cron:nightly:manual:1" })
      yield* enqueue(Echo, {}, { uniqueKey: "cron:nightly.extra:2030-01-01T00:00:00.000Z" })
      yield* enqueue(Echo, {}, { uniqueKey: "not-a-cron:nightly:1" })
      const runs = yield* controls.lastCronRuns(["nightly", "hourly"])
      expect([...runs.keys()]).toEqual(["nightly"])
      const job = Option.getOrThrow(yield* store.get(manual.id))
      expect(runs.get("nightly")).toEqual({ jobId: manual.id, state: "available", runAt: job.runAt, finishedAt: null })
      expect((yield* controls.lastCronRuns([])).size).toBe(0)
    })
  )

  it.effect("a drain request is set once on a registered process, read back by its heartbeat and listed", () =>
    Effect.gen(function* () {
      yield* reset
      const controls = yield* EngineControls
      const registry = yield* ProcessRegistry
      const id = yield* registered
      expect(yield* registry.beat(id, {})).toEqual({ found: true, drainRequested: false })
      expect(yield* controls.requestDrain(randomUUID(), "ada")).toBe(false)
      expect(yield* controls.requestDrain("not-a-uuid", "ada")).toBe(false)
      expect(yield* controls.requestDrain(id, "ada")).toBe(true)
      const [first] = yield* registry.list
      expect(first).toMatchObject({ id, drainRequestedBy: "ada", drainRequestedAt: expect.any(Date) })
      expect(yield* controls.requestDrain(id, "bob")).toBe(true) // asked again: the first request stands
      const [again] = yield* registry.list
      expect(again).toMatchObject({ drainRequestedBy: "ada", drainRequestedAt: first?.drainRequestedAt })
      expect(yield* registry.beat(id, {})).toEqual({ found: true, drainRequested: true })
      expect(yield* registry.beat(randomUUID(), {})).toEqual({ found: false, drainRequested: false })
    })
  )
})
