/**
 * The admin API's engine controls over real HTTP, on a whole process (role
 * `all`) with a cron schedule: pausing and resuming a queue, listing, running,
 * enabling and disabling schedules, and asking a process to drain. Every
 * response is checked against the OpenAPI document (tests/support/app.ts).
 */
import { readFileSync } from "node:fs"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CronDefinition, defineCron, nextSlot } from "../../../domain/jobs/CronDefinition.ts"
import { type RunningApp, startApp } from "../../support/app.ts"
import { thisRuntime } from "../../support/runtime.ts"
import { eventually, query } from "../../support/database.ts"
import { ledgerDatabase } from "../../support/ledger.ts"
import { Tick } from "../../support/testJobs.ts"

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
// once a year: no slot comes while the test runs
const yearly = defineCron({ name: "test.yearly", schedule: "0 0 1 1 *", job: Tick, args: {} }) as CronDefinition

interface Job {
  readonly id: string
  readonly state: string
  readonly uniqueKey: string | null
  readonly kind: string
}

interface Cron {
  readonly name: string
  readonly schedule: string
  readonly kind: string
  readonly queue: string
  readonly enabled: boolean
  readonly updatedAt?: string
  readonly updatedBy?: string
  readonly nextRunAt: string
  readonly lastRun?: { readonly jobId: string; readonly state: string; readonly runAt: string; readonly finishedAt: string | null }
}

describe("the admin API's engine controls", () => {
  const db = ledgerDatabase()
  let app: RunningApp

  beforeAll(async () => {
    app = await startApp({ databaseUrl: db.url, crons: [yearly] })
  })
  afterAll(() => app?.dispose())

  const post = (path: string, admin = true) => app.request(path, { method: "POST", admin })
  const json = async <T>(response: Response, status: number): Promise<T> => {
    const text = await response.text()
    expect({ status: response.status, body: text }).toMatchObject({ status })
    return JSON.parse(text) as T
  }
  const problem = async (response: Response, status: number) => {
    expect(response.status).toBe(status)
    expect(response.headers.get("content-type")).toBe("application/problem+json")
    return (await response.json()) as { type: string; detail: string }
  }
  const crons = async () => json<ReadonlyArray<Cron>>(await app.request("/admin/api/crons", { admin: true }), 200)

  it("every control needs the admin token", async () => {
    for (const path of [
      "/admin/api/queues/default/pause",
      "/admin/api/queues/default/resume",
      "/admin/api/crons/test.yearly/run",
      "/admin/api/crons/test.yearly/enable",
      "/admin/api/crons/test.yearly/disable",
      `/admin/api/processes/${randomUUID()}/drain`
    ]) {
      expect((await problem(await post(path, false), 401)).type).toBe("/problems/unauthorized")
      const wrong = await app.request(path, { method: "POST", headers: { authorization: "Bearer not-the-admin-token-at-all" } })
      expect(wrong.status, path).toBe(403)
    }
    expect((await app.request("/admin/api/crons")).status).toBe(401)
    expect(await query(db.url, "SELECT * FROM paused_queues")).toEqual([])
    expect(await query(db.url, "SELECT * FROM cron_controls")).toEqual([])
  })

  it("names no queue, schedule or process that does not exist: 404", async () => {
    for (const path of [
      "/admin/api/queues/nowhere/pause",
      "/admin/api/queues/nowhere/resume",
      "/admin/api/crons/nothing/run",
      "/admin/api/crons/nothing/enable",
      "/admin/api/crons/nothing/disable",
      `/admin/api/processes/${randomUUID()}/drain`,
      "/admin/api/processes/not-a-uuid/drain"
    ]) {
      expect((await problem(await post(path), 404)).type, path).toBe("/problems/not-found")
    }
    expect(await query(db.url, "SELECT * FROM paused_queues")).toEqual([])
  })

  it("pause and resume a queue: the queue view says so, the gauge too, and resuming runs what waited", async () => {
    const { data: paused, response } = await app.adminClient.POST("/admin/api/queues/{queue}/pause", { params: { path: { queue: "default" } } })
    expect(response.status).toBe(200)
    expect(paused).toMatchObject({ queue: "default", paused: true, pausedBy: "admin-token" })
    expect(paused?.pausedAt).toMatch(ISO)
    // twice is the same pause
    const again = await json<{ pausedAt: string }>(await post("/admin/api/queues/default/pause"), 200)
    expect(again.pausedAt).toBe(paused?.pausedAt)
    const listed = await json<ReadonlyArray<{ queue: string; paused: boolean }>>(await app.request("/admin/api/queues", { admin: true }), 200)
    expect(listed.find((q) => q.queue === "default")).toMatchObject({ paused: true, pausedBy: "admin-token" })
    expect(await (await app.request("/metrics")).text()).toMatch(/^switchboard_queue_paused\{queue="default"\} 1$/m)

    const job = await json<Job>(await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "test.ledger" }) }), 201)
    const [row] = await query<{ state: string; attempt: number }>(db.url, "SELECT state, attempt FROM jobs WHERE id = $1", [job.id])
    expect(row).toEqual({ state: "available", attempt: 0 })

    const resumed = await json<Record<string, unknown>>(await post("/admin/api/queues/default/resume"), 200)
    expect(resumed).toMatchObject({ queue: "default", paused: false })
    expect(resumed).not.toHaveProperty("pausedAt")
    expect(resumed).not.toHaveProperty("pausedBy")
    await eventually(async () => {
      const [done] = await query<{ state: string }>(db.url, "SELECT state FROM jobs WHERE id = $1", [job.id])
      return done?.state === "completed" ? true : undefined
    }, 10_000, "the job to run once resumed")
    expect(await (await app.request("/metrics")).text()).toMatch(/^switchboard_queue_paused\{queue="default"\} 0$/m)
  })

  it("lists the schedules with their next slot; run now enqueues a job outside the slots and becomes the last run", async () => {
    const [before] = await crons()
    expect(before).toEqual({
      name: "test.yearly",
      schedule: "0 0 1 1 *",
      kind: "test.tick",
      queue: "default",
      enabled: true,
      nextRunAt: nextSlot(yearly.schedule, new Date()).toISOString()
    })
    const job = await json<Job>(await post("/admin/api/crons/test.yearly/run"), 201)
    expect(job).toMatchObject({ kind: "test.tick" })
    expect(job.uniqueKey).toMatch(/^cron:test\.yearly:manual:[0-9a-f-]{36}$/)
    const [after] = await crons()
    expect(after?.nextRunAt).toBe(before?.nextRunAt)
    expect(after?.lastRun?.jobId).toBe(job.id)
    expect(after?.lastRun?.runAt).toMatch(ISO)
    // the process runs it like any job
    const finished = await eventually(async () => {
      const [now] = await crons()
      return now?.lastRun?.state === "completed" ? now.lastRun : undefined
    }, 10_000, "the manual run to complete")
    expect(finished.finishedAt).toMatch(ISO)
  })

  it("disable and enable a schedule, recorded with who and when", async () => {
    const disabled = await json<Cron>(await post("/admin/api/crons/test.yearly/disable"), 200)
    expect(disabled).toMatchObject({ name: "test.yearly", enabled: false, updatedBy: "admin-token" })
    expect(disabled.updatedAt).toMatch(ISO)
    expect((await crons())[0]?.enabled).toBe(false)
    expect(await query(db.url, "SELECT name, enabled, updated_by FROM cron_controls")).toEqual([
      { name: "test.yearly", enabled: false, updated_by: "admin-token" }
    ])
    const enabled = await json<Cron>(await post("/admin/api/crons/test.yearly/enable"), 200)
    expect(enabled).toMatchObject({ enabled: true, updatedBy: "admin-token" })
    expect((await crons())[0]?.enabled).toBe(true)
  })

  it("asks a process to drain: 202 with the process, shown in the process list", async () => {
    // a process row of another (pretend) process: draining this one would stop the test run
    const id = randomUUID()
    await query(db.url, "INSERT INTO processes (id, role, hostname, pid, heartbeat_at) VALUES ($1, 'worker', 'elsewhere', 4242, now() + interval '1 hour')", [id])
    const drained = await json<{ id: string; drainRequestedAt: string | null; drainRequestedBy: string | null }>(
      await post(`/admin/api/processes/${id.toUpperCase()}/drain`),
      202
    )
    expect(drained).toMatchObject({ id, role: "worker", pid: 4242, drainRequestedBy: "admin-token" })
    expect(drained.drainRequestedAt).toMatch(ISO)
    const processes = await json<ReadonlyArray<{ id: string; drainRequestedAt: string | null }>>(await app.request("/admin/api/processes", { admin: true }), 200)
    expect(processes.find((p) => p.id === id)?.drainRequestedAt).toBe(drained.drainRequestedAt)
    // this process itself: not asked; it says what it runs, the row written by hand does not
    expect(processes.find((p) => p.id !== id)?.drainRequestedAt).toBeNull()
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }
    expect(processes.find((p) => p.id !== id)).toMatchObject({ version: pkg.version, revision: "unknown", runtime: thisRuntime })
    expect(processes.find((p) => p.id === id)).toMatchObject({ version: null, revision: null, runtime: null })
  })
})
