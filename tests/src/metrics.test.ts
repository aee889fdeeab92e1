/**
 * /metrics as Prometheus reads it: valid exposition text (and `promtool check
 * metrics` agrees), every metric of the catalogue present, and job counters
 * equal to what the jobs actually did, as the database records it.
 */
import { spawnSync } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningApp, startApp } from "../support/app.ts"
import { cloneDatabase, query } from "../support/database.ts"
import { count, countReaches } from "../support/ledger.ts"
import { parseExposition, valueOf } from "../support/prometheus.ts"
import { LEDGER_SQL } from "../support/testJobs.ts"

const CATALOGUE = [
  "switchboard_http_requests_total",
  "switchboard_http_request_duration_seconds",
  "switchboard_jobs_enqueued_total",
  "switchboard_jobs_finished_total",
  "switchboard_job_duration_seconds",
  "switchboard_job_queue_depth",
  "switchboard_job_oldest_available_age_seconds",
  "switchboard_jobs_rescued_total",
  "switchboard_actor_restarts_total",
  "switchboard_actor_heartbeat_age_seconds",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "nodejs_eventloop_lag_seconds"
]

describe("/metrics", () => {
  let app: RunningApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    app = await startApp({ databaseUrl: url })
  })
  afterAll(() => app.dispose())

  const enqueue = async (body: Record<string, unknown>) => {
    const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify(body) })
    expect(response.status).toBe(201)
    return ((await response.json()) as { id: string }).id
  }

  it("is valid exposition text whose job counters match the jobs that ran", async () => {
    for (let i = 0; i < 4; i++) await enqueue({ kind: "test.ledger", args: {} })
    for (let i = 0; i < 2; i++) await enqueue({ kind: "test.ledger", args: { failTimes: 1 } }) // one retry each
    const later = await enqueue({ kind: "test.ledger", args: {}, delaySeconds: 3600 })
    await enqueue({ kind: "test.ledger", args: {}, delaySeconds: 3600 }) // stays scheduled
    expect((await app.request(`/admin/api/jobs/${later}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    await countReaches(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 6, 30_000)

    const response = await app.request("/metrics")
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4")
    const text = await response.text()
    const metrics = parseExposition(text)
    for (const name of CATALOGUE) expect(metrics.types.has(name), name).toBe(true)

    const job = { queue: "default", kind: "test.ledger" }
    const completed = await count(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'")
    const attempts = await count(url, "SELECT count(*) AS n FROM ledger_starts")
    expect(valueOf(metrics, "switchboard_jobs_enqueued_total", job)).toBe(await count(url, "SELECT count(*) AS n FROM jobs"))
    expect(valueOf(metrics, "switchboard_jobs_finished_total", { ...job, outcome: "completed" })).toBe(completed)
    expect(valueOf(metrics, "switchboard_jobs_finished_total", { ...job, outcome: "retried" })).toBe(attempts - completed)
    expect(valueOf(metrics, "switchboard_jobs_finished_total", { ...job, outcome: "cancelled" })).toBe(1)
    expect(valueOf(metrics, "switchboard_job_duration_seconds_count", job)).toBe(attempts)
    expect(valueOf(metrics, "switchboard_job_queue_depth", { queue: "default", state: "scheduled" })).toBe(1)
    expect(valueOf(metrics, "switchboard_job_queue_depth", { queue: "default", state: "running" })).toBe(0)
    expect(valueOf(metrics, "switchboard_http_requests_total", { method: "POST", route: "/admin/api/jobs", status: "201" })).toBe(8)
    expect(valueOf(metrics, "switchboard_actor_restarts_total", { actor: "notifier" })).toBe(0)
    expect(valueOf(metrics, "switchboard_actor_heartbeat_age_seconds", { actor: "pool:default" })).toBeGreaterThanOrEqual(0)

    const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })
    if (promtool.error !== undefined) throw new Error(`promtool is needed (Debian package prometheus): ${promtool.error.message}`)
    expect(promtool.stdout + promtool.stderr).toBe("")
    expect(promtool.status).toBe(0)
  })

  it("answers 401 without and 403 with a wrong METRICS_TOKEN, and serves the right one", async () => {
    const guarded = await startApp({ databaseUrl: url, env: { METRICS_TOKEN: "metrics-token-0123456789" } })
    try {
      expect((await guarded.request("/metrics")).status).toBe(401)
      expect((await guarded.request("/metrics", { headers: { authorization: "Bearer metrics-token-012345678X" } })).status).toBe(403)
      const ok = await guarded.request("/metrics", { headers: { authorization: "Bearer metrics-token-0123456789" } })
      expect(ok.status).toBe(200)
      expect(await ok.text()).toContain("switchboard_jobs_enqueued_total")
    } finally {
      await guarded.dispose()
    }
  })
})
