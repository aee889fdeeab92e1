/**
 * A worker paused (SIGSTOP) past its heartbeat loses its job to a rescue; when
 * it resumes (SIGCONT) and finishes, its completion changes no row: the job
 * stays with the worker that holds the current lease.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { cloneDatabase, eventually, query, storeRuntime } from "../support/database.ts"
import { countReaches } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { LEDGER_SQL, Ledger } from "../support/testJobs.ts"

describe("a paused worker", () => {
  let url: string
  let runtime: ReturnType<typeof storeRuntime>
  beforeAll(async () => {
    url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    runtime = storeRuntime(url)
  })
  afterAll(() => runtime.dispose())

  it("cannot complete the job that was rescued from it", async () => {
    const { id } = await runtime.runPromise(enqueue(Ledger, { firstAttemptMs: 1_500, sleepMs: 6_000 }))
    const zombie = spawnWorker(url, { QUEUES: "default:1" })
    await countReaches(url, "SELECT count(*) AS n FROM ledger_starts WHERE attempt = 1", 1, 30_000)
    zombie.signal("SIGSTOP")

    const rescuer = spawnWorker(url, { QUEUES: "default:1" })
    await countReaches(url, "SELECT count(*) AS n FROM ledger_starts WHERE attempt = 2 AND pid = $1", 1, 30_000, [rescuer.pid])
    const [holder] = await query<{ id: string }>(url, "SELECT id FROM processes WHERE pid = $1", [rescuer.pid])

    zombie.signal("SIGCONT") // its handler finishes at once and tries to complete attempt 1
    await eventually(async () => (zombie.output().includes("lease lost on 1 job(s)") ? true : undefined), 10_000, "the zombie's fenced write")
    const [during] = await query<{ state: string; attempt: number; locked_by: string }>(url, "SELECT state, attempt, locked_by FROM jobs WHERE id = $1", [id])
    expect(during).toEqual({ state: "running", attempt: 2, locked_by: holder?.id })
    expect(zombie.output()).toContain("presumed dead")

    await countReaches(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 1, 20_000)
    const [after] = await query<{ attempt: number; locked_by: string }>(url, "SELECT attempt, locked_by FROM jobs WHERE id = $1", [id])
    expect(after).toEqual({ attempt: 2, locked_by: holder?.id })
  })
})
