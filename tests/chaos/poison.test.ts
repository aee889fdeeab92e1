/**
 * A job that kills its process on every attempt ends discarded after
 * maxAttempts (the attempt is spent at claim), while the other jobs complete.
 * The test plays the orchestrator that restarts a dead worker.
 */
import { describe, expect, it } from "vitest"
import { enqueue, enqueueMany } from "../../infra/jobs/Jobs.ts"
import { query } from "../support/database.ts"
import { countReaches, ledgerDatabase } from "../support/ledger.ts"
import { spawnWorker, type WorkerProcess } from "../support/processes.ts"
import { Ledger, Poison } from "../support/testJobs.ts"

describe("a poison job", () => {
  const db = ledgerDatabase()

  it("is discarded after maxAttempts and does not stop the other jobs", async () => {
    const poison = await db.runtime.runPromise(enqueue(Poison, {}))
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 20 }, () => ({ args: { sleepMs: 20 } }))))
    let restarts = 0
    let current: WorkerProcess | undefined
    let stopped = false
    const supervise = async () => {
      while (!stopped && restarts < 8) {
        current = spawnWorker(db.url, { QUEUES: "default:2" })
        const code = await current.exited
        if (stopped) return
        restarts++
        expect(code).toBeNull() // killed by SIGKILL, not a clean exit
      }
    }
    const supervisor = supervise()
    try {
      await countReaches(db.url, "SELECT count(*) AS n FROM jobs WHERE id = $1 AND state = 'discarded'", 1, 60_000, [poison.id])
      await countReaches(db.url, "SELECT count(*) AS n FROM jobs WHERE kind = 'test.ledger' AND state = 'completed'", 20, 30_000)
    } finally {
      stopped = true
      current?.signal("SIGKILL")
      await supervisor
    }
    const [row] = await query<{ attempt: number; kinds: Array<string> }>(
      db.url,
      "SELECT attempt, ARRAY(SELECT e->>'kind' FROM jsonb_array_elements(errors) e) AS kinds FROM jobs WHERE id = $1",
      [poison.id]
    )
    expect(row).toEqual({ attempt: 3, kinds: ["rescued", "rescued", "rescued"] })
    expect(restarts).toBe(3)
  })
})
