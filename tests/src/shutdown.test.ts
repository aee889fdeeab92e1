/**
 * A rolling deploy as Kubernetes does it: SIGTERM to a running app process
 * (HTTP and engine). Readiness must turn 503 at once while jobs drain; jobs
 * that finish within SHUTDOWN_GRACE complete, the rest go back to `available`
 * with their attempt refunded; the process row goes; the exit code is 0.
 */
import { describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { query, storeRuntime } from "../support/database.ts"
import { count, countReaches, ledgerDatabase } from "../support/ledger.ts"
import { spawnWorker, type WorkerProcess } from "../support/processes.ts"
import { Ledger } from "../support/testJobs.ts"

const JOBS = 20

/** Polls /readyz every 50 ms from `since`; resolves with the ms until the first 503. */
const readinessFails = async (app: WorkerProcess, base: string, since: number) => {
  for (;;) {
    const response = await fetch(`${base}/readyz`).catch(() => undefined)
    if (response?.status === 503) return { after: Date.now() - since, body: (await response.json()) as Record<string, unknown> }
    if (Date.now() - since > 10_000) throw new Error(`readiness never failed:\n${app.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const startWith = async (url: string, sleepMs: number, grace: string) => {
  const runtime = storeRuntime(url)
  await runtime.runPromise(enqueueMany(Ledger, Array.from({ length: JOBS }, () => ({ args: { sleepMs } }))))
  await runtime.dispose()
  const app = spawnWorker(url, { ROLE: "all", QUEUES: `default:${JOBS}:0`, SHUTDOWN_GRACE: grace })
  const base = await app.ready()
  await countReaches(url, "SELECT count(*) AS n FROM ledger_starts", JOBS, 30_000)
  return { app, base }
}

describe("SIGTERM with jobs that fit in the grace period", () => {
  const db = ledgerDatabase()

  it("turns /readyz 503 within a second, completes all 20, exits 0 and holds nothing", async () => {
    const { app, base } = await startWith(db.url, 3_000, "10s")
    const signalledAt = Date.now()
    app.signal("SIGTERM")
    const readiness = await readinessFails(app, base, signalledAt)
    expect(readiness.after).toBeLessThan(1_000)
    expect(JSON.stringify(readiness.body.checks)).toContain("shutting down")
    expect((await fetch(`${base}/livez`)).status).toBe(200) // alive while draining
    expect(await app.exited).toBe(0)
    expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'")).toBe(JOBS)
    expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions")).toBe(JOBS)
    expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'running' OR locked_by IS NOT NULL AND state <> 'completed'")).toBe(0)
    expect(await count(db.url, "SELECT count(*) AS n FROM processes")).toBe(0)
  })
})

describe("SIGTERM with jobs longer than the grace period", () => {
  const db = ledgerDatabase()

  it("exits 0 soon after the grace and hands all 20 back as available with their attempt unchanged", async () => {
    const { app } = await startWith(db.url, 60_000, "2s")
    const signalledAt = Date.now()
    app.signal("SIGTERM")
    expect(await app.exited).toBe(0)
    const took = Date.now() - signalledAt
    expect(took).toBeGreaterThanOrEqual(2_000) // the grace was granted
    expect(took).toBeLessThan(6_000) // "about 3 s": grace plus hand-back, with room for a loaded machine
    const rows = await query<{ state: string; attempt: number }>(db.url, "SELECT state, attempt FROM jobs")
    expect(rows).toEqual(Array.from({ length: JOBS }, () => ({ state: "available", attempt: 0 })))
    expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions")).toBe(0)
    expect(await count(db.url, "SELECT count(*) AS n FROM processes")).toBe(0)
  })
})
