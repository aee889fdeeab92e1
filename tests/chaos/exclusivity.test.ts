/** Three worker processes drain 5,000 jobs: every job runs exactly once, never twice at the same time. */
import { describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { query } from "../support/database.ts"
import { count, countReaches, ledgerDatabase, WITH_WORKERS_MS, workersUp } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { Ledger } from "../support/testJobs.ts"

describe("three workers on one queue", () => {
  const db = ledgerDatabase()

  it("run each of 5,000 jobs exactly once", async () => {
    // the default staleness (10 s), not the tests' 2 s: on a loaded machine (deno test --parallel in CI) a busy
    // worker's heartbeat can lag 2 s, its jobs are rescued while they run, and some start twice (at-least-once,
    // which crash.test proves); this test is about three live workers never sharing a job
    const workers = [1, 2, 3].map(() => spawnWorker(db.url, { QUEUES: "default:10", PROCESS_STALE_AFTER: "10s" }))
    await workersUp(db.url, 3) // all three race from the first job
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 5_000 }, () => ({ args: {} }))))
    await countReaches(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 5_000, 90_000)
    expect(await count(db.url, "SELECT count(*) AS n FROM ledger_starts")).toBe(5_000)
    expect(await count(db.url, "SELECT count(DISTINCT job_id) AS n FROM ledger_starts")).toBe(5_000)
    expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions")).toBe(5_000)
    expect(await query(db.url, "SELECT * FROM ledger_violations")).toEqual([])
    expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE attempt <> 1")).toBe(0)
    const share = await query<{ pid: number; n: string }>(db.url, "SELECT pid, count(*) AS n FROM ledger_starts GROUP BY pid")
    expect(share.map((row) => row.pid).sort()).toEqual(workers.map((w) => w.pid).sort())
  }, WITH_WORKERS_MS)
})
