/** Three processes run one every-second schedule: each slot's job is enqueued and run exactly once. */
import { describe, expect, it } from "vitest"
import { eventually, query } from "../support/database.ts"
import { count, ledgerDatabase, WITH_WORKERS_MS, workersUp } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"

describe("cron across processes", () => {
  const db = ledgerDatabase()

  it("runs each of 10 consecutive slots exactly once", async () => {
    const workers = [1, 2, 3].map(() => spawnWorker(db.url, { QUEUES: "default:4", TEST_CRON: "* * * * * *" }))
    await workersUp(db.url, 3)
    const startedAt = new Date()
    // ten full slots after all three are up
    await eventually(
      async () => ((await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed' AND run_at > $1", [startedAt])) >= 10 ? true : undefined),
      30_000,
      "10 slots"
    )
    const slots = await query<{ unique_key: string; runs: string; run_at: Date }>(
      db.url,
      `SELECT j.unique_key, j.run_at, count(l.job_id) AS runs FROM jobs j LEFT JOIN ledger_starts l ON l.job_id = j.id
        WHERE j.kind = 'test.tick' AND j.state = 'completed' AND j.run_at > $1 GROUP BY j.id ORDER BY j.run_at`,
      [startedAt]
    )
    expect(slots.length).toBeGreaterThanOrEqual(10)
    for (const slot of slots) {
      expect(slot.runs).toBe("1")
      expect(slot.unique_key).toBe(`cron:test.tick:${slot.run_at.toISOString()}`)
    }
    const times = slots.map((slot) => slot.run_at.getTime())
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBe(1_000) // no slot skipped
    const runners = await query<{ pid: number }>(db.url, "SELECT DISTINCT pid FROM ledger_starts")
    expect(runners.length).toBeGreaterThanOrEqual(1)
    expect(workers.length).toBe(3)
  }, WITH_WORKERS_MS)
})
