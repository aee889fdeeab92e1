/**
 * A worker holding 50 jobs is SIGKILLed; another process prunes it after its
 * heartbeat goes stale and completes all 50, each exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { cloneDatabase, query, storeRuntime } from "../support/database.ts"
import { count, countReaches } from "../support/ledger.ts"
import { fastEngine, spawnWorker } from "../support/processes.ts"
import { LEDGER_SQL, Ledger } from "../support/testJobs.ts"


describe("a crashed worker's jobs", () => {
  let url: string
  let runtime: ReturnType<typeof storeRuntime>
  beforeAll(async () => {
    url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    runtime = storeRuntime(url)
  })
  afterAll(() => runtime.dispose())

  it("are rescued and completed once, within the stale timeout + 5 s", async () => {
    await runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 50 }, () => ({ args: { hangFirstAttempt: true } }))))
    const doomed = spawnWorker(url, { QUEUES: "default:50" })
    await countReaches(url, "SELECT count(*) AS n FROM ledger_starts WHERE pid = $1", 50, 30_000, [doomed.pid])
    const rescuer = spawnWorker(url, { QUEUES: "default:50" })
    await countReaches(url, "SELECT count(*) AS n FROM processes", 2, 30_000)

    doomed.signal("SIGKILL")
    const killedAt = Date.now()
    await countReaches(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 50, 20_000)
    const elapsed = Date.now() - killedAt
    console.info(`crash: 50 jobs rescued and completed ${elapsed} ms after SIGKILL (stale after 2 s)`)
    const staleMs = 2_000
    expect(fastEngine.PROCESS_STALE_AFTER).toBe("2s")
    expect(elapsed).toBeLessThanOrEqual(staleMs + 5_000)

    expect(await count(url, "SELECT count(*) AS n FROM ledger_completions")).toBe(50)
    expect(await count(url, "SELECT count(*) AS n FROM ledger_completions WHERE pid <> $1", [rescuer.pid])).toBe(0)
    expect(await query(url, "SELECT * FROM ledger_violations")).toEqual([])
    const jobs = await query<{ attempt: number; kinds: Array<string> }>(
      url,
      "SELECT attempt, ARRAY(SELECT e->>'kind' FROM jsonb_array_elements(errors) e) AS kinds FROM jobs"
    )
    expect(jobs.every((job) => job.attempt === 2 && job.kinds.join() === "rescued")).toBe(true)
    expect(await count(url, "SELECT count(*) AS n FROM processes")).toBe(1)
  })
})
