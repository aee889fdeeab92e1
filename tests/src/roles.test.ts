/**
 * ROLE decides what a process runs and is recorded on its process row: `web`
 * serves the API but runs no pools, `worker` runs the pools and serves only
 * the operations routes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningApp, startApp } from "../support/app.ts"
import { cloneDatabase, eventually, query } from "../support/database.ts"
import { LEDGER_SQL } from "../support/testJobs.ts"

describe("roles", () => {
  let url: string
  let web: RunningApp
  let worker: RunningApp | undefined
  beforeAll(async () => {
    url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    web = await startApp({ databaseUrl: url, role: "web" })
  })
  afterAll(async () => {
    await worker?.dispose()
    await web.dispose()
  })

  const stateOf = async (id: string) => ((await (await web.request(`/admin/api/jobs/${id}`, { admin: true })).json()) as { state: string }).state

  it("web serves the admin API, records its role, and runs no job; a worker then runs it and serves only operations routes", async () => {
    const created = await web.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "test.ledger", args: {} }) })
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    await new Promise((resolve) => setTimeout(resolve, 1_000)) // several poll intervals of a would-be pool
    expect(await stateOf(id)).toBe("available")

    worker = await startApp({ databaseUrl: url, role: "worker" })
    await eventually(async () => ((await stateOf(id)) === "completed" ? true : undefined), 20_000, "the worker to run the job")

    type Row = { role: string; queues: Record<string, unknown> }
    // a process publishes its pools' load with its heartbeats
    const processes = await eventually(async () => {
      const rows = (await (await web.request("/admin/api/processes", { admin: true })).json()) as Array<Row>
      return rows.some((p) => p.role === "worker" && Object.keys(p.queues).length > 0) ? rows : undefined
    }, 5_000, "the worker's pools in its process row")
    expect(processes.map((p) => p.role).sort()).toEqual(["web", "worker"])
    expect(processes.find((p) => p.role === "web")?.queues).toEqual({})
    expect(Object.keys(processes.find((p) => p.role === "worker")?.queues ?? {})).toEqual(["default"])

    for (const path of ["/livez", "/readyz", "/healthz", "/metrics", "/openapi.json"]) expect((await worker.request(path)).status, path).toBe(200)
    const admin = await worker.request("/admin/api/queues", { admin: true })
    expect(admin.status).toBe(404)
    expect(admin.headers.get("content-type")).toBe("application/problem+json")
  })
})
