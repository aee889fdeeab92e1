/**
 * A worker holding 50 jobs is SIGKILLed; another process prunes it after its
 * heartbeat goes stale and completes all 50, each exactly once.
 */
import { describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { query } from "../support/database.ts"
import { count, countReaches, ledgerDatabase, WITH_WORKERS_MS, workersUp } from "../support/ledger.ts"
import { fastEngine, spawnWorker } from "../support/processes.ts"
import { Ledger } from "../support/testJobs.ts"

describe("a crashed worker's jobs", () => {
  const db = ledgerDatabase()

  it("are rescued and completed once, within the stale timeout + 5 s", async () => {
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 50 }, () => ({ args: { hangFirstAttempt: true } }))))
    const doomed = spawnWorker(db.url, { QUEUES: "default:50" })
    await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts WHERE pid = $1", 50, 30_000, [doomed.pid])
    const rescuer = spawnWorker(db.url, { QUEUES: "default:50" })
    await workersUp(db.url, 2)

    doomed.signal("SIGKILL")
    const killedAt = Date.now()
    await countReaches(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 50, 20_000)
    const elapsed = Date.now() - killedAt
    console.info(`crash: 50 jobs rescued and completed ${elapsed} ms after SIGKILL (stale after 2 s)`)
    const staleMs = 2_000
    expect(fastEngine.PROCESS_STALE_AFTER).toBe("2s")
    expect(elapsed).toBeLessThanOrEqual(staleMs + 5_000)

    expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions")).toBe(50)
    expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions WHERE pid <> $1", [rescuer.pid])).toBe(0)
    expect(await query(db.url, "SELECT * FROM ledger_violations")).toEqual([])
    const jobs = await query<{ attempt: number; kinds: Array<string> }>(
      db.url,
      "SELECT attempt, ARRAY(SELECT e->>'kind' FROM jsonb_array_elements(errors) e) AS kinds FROM jobs"
    )
    expect(jobs.every((job) => job.attempt === 2 && job.kinds.join() === "rescued")).toBe(true)
    expect(await count(db.url, "SELECT count(*) AS n FROM processes")).toBe(1)
  }, WITH_WORKERS_MS)
})
