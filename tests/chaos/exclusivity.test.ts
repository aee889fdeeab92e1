/** Three worker processes drain 5,000 jobs: every job runs exactly once, never twice at the same time. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { cloneDatabase, query, storeRuntime } from "../support/database.ts"
import { count, countReaches } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { LEDGER_SQL, Ledger } from "../support/testJobs.ts"

describe("three workers on one queue", () => {
  let url: string
  let runtime: ReturnType<typeof storeRuntime>
  beforeAll(async () => {
    url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    runtime = storeRuntime(url)
  })
  afterAll(() => runtime.dispose())

  it("run each of 5,000 jobs exactly once", async () => {
    await runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 5_000 }, () => ({ args: {} }))))
    const workers = [1, 2, 3].map(() => spawnWorker(url, { QUEUES: "default:10" }))
    await countReaches(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 5_000, 90_000)
    expect(await count(url, "SELECT count(*) AS n FROM ledger_starts")).toBe(5_000)
    expect(await count(url, "SELECT count(DISTINCT job_id) AS n FROM ledger_starts")).toBe(5_000)
    expect(await count(url, "SELECT count(*) AS n FROM ledger_completions")).toBe(5_000)
    expect(await query(url, "SELECT * FROM ledger_violations")).toEqual([])
    expect(await count(url, "SELECT count(*) AS n FROM jobs WHERE attempt <> 1")).toBe(0)
    const share = await query<{ pid: number; n: string }>(url, "SELECT pid, count(*) AS n FROM ledger_starts GROUP BY pid")
    expect(share.map((row) => row.pid).sort()).toEqual(workers.map((w) => w.pid).sort())
  })
})
