/**
 * A worker paused (SIGSTOP) past its heartbeat loses its job to a rescue; when
 * it resumes (SIGCONT) and finishes, its completion changes no row: the job
 * stays with the worker that holds the current lease.
 */
import { describe, expect, it } from "vitest"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { eventually, query } from "../support/database.ts"
import { countReaches, ledgerDatabase } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { Ledger } from "../support/testJobs.ts"

describe("a paused worker", () => {
  const db = ledgerDatabase()

  it("cannot complete the job that was rescued from it", async () => {
    const { id } = await db.runtime.runPromise(enqueue(Ledger, { firstAttemptMs: 1_500, sleepMs: 6_000 }))
    const zombie = spawnWorker(db.url, { QUEUES: "default:1" })
    await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts WHERE attempt = 1", 1, 30_000)
    zombie.signal("SIGSTOP")

    const rescuer = spawnWorker(db.url, { QUEUES: "default:1" })
    await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts WHERE attempt = 2 AND pid = $1", 1, 30_000, [rescuer.pid])
    const [holder] = await query<{ id: string }>(db.url, "SELECT id FROM processes WHERE pid = $1", [rescuer.pid])

    zombie.signal("SIGCONT") // its handler finishes at once and tries to complete attempt 1
    await eventually(async () => (zombie.output().includes("lease lost on 1 job(s)") ? true : undefined), 10_000, "the zombie's fenced write")
    const [during] = await query<{ state: string; attempt: number; locked_by: string }>(db.url, "SELECT state, attempt, locked_by FROM jobs WHERE id = $1", [id])
    expect(during).toEqual({ state: "running", attempt: 2, locked_by: holder?.id })
    // and its heartbeat, on its next beat, finds its row gone and registers again
    await eventually(async () => (zombie.output().includes("presumed dead") ? true : undefined), 10_000, "the zombie to register again")

    await countReaches(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 1, 20_000)
    const [after] = await query<{ attempt: number; locked_by: string }>(db.url, "SELECT attempt, locked_by FROM jobs WHERE id = $1", [id])
    expect(after).toEqual({ attempt: 2, locked_by: holder?.id })
  })
})
