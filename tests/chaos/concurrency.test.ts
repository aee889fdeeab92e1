/**
 * A concurrency key limited to 2, with jobs spread over 3 processes: at most
 * (and, under load, exactly) 2 run at once, and waiting spends no attempt.
 */
import { describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { query } from "../support/database.ts"
import { count, countReaches, ledgerDatabase, WITH_WORKERS_MS, workersUp } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { Keyed } from "../support/testJobs.ts"

describe("a concurrency key across processes", () => {
  const db = ledgerDatabase()

  it("never runs more than its limit at once, and waiting keeps attempts", async () => {
    const workers = [1, 2, 3].map(() => spawnWorker(db.url, { QUEUES: "default:5" }))
    await workersUp(db.url, workers.length)
    await db.runtime.runPromise(
      enqueueMany(Keyed, Array.from({ length: 30 }, () => ({ args: { sleepMs: 150 }, options: { concurrencyKey: "business-7", concurrencyLimit: 2 } })))
    )
    await countReaches(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 30, 60_000)
    const [probe] = await query<{ max_seen: number; running: number }>(db.url, "SELECT max_seen, running FROM ledger_probe WHERE key = 'k'")
    expect(probe).toEqual({ max_seen: 2, running: 0 })
    expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE attempt <> 1")).toBe(0)
    expect(await count(db.url, "SELECT count(DISTINCT pid) AS n FROM ledger_completions")).toBeGreaterThan(1)
  }, WITH_WORKERS_MS)
})
