/**
 * SIGINT/SIGTERM: the worker stops claiming, lets running jobs finish within
 * SHUTDOWN_GRACE, hands back the rest without spending their attempt, removes
 * its process row and exits 0.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { query } from "../support/database.ts"
import { count, countReaches, ledgerDatabase } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { Ledger } from "../support/testJobs.ts"

describe("graceful shutdown", () => {
  const db = ledgerDatabase()

  it("finishes short jobs, hands back long ones with their attempt, and exits 0", async () => {
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 3 }, () => ({ args: { sleepMs: 500 } }))))
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 3 }, () => ({ args: { sleepMs: 60_000 } }))))
    const worker = spawnWorker(db.url, { QUEUES: "default:6:4", SHUTDOWN_GRACE: "1500ms" })
    await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts", 6, 30_000)
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 2 }, () => ({ args: { sleepMs: 0 } })))) // buffered, not started
    const signalledAt = Date.now()
    worker.signal("SIGINT")
    const code = await worker.exited
    const took = Date.now() - signalledAt
    expect(code).toBe(0)
    expect(took).toBeLessThan(5_000)
    expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'")).toBe(3)
    const rest = await query<{ state: string; attempt: number }>(db.url, "SELECT state, attempt FROM jobs WHERE state <> 'completed'")
    expect(rest).toHaveLength(5)
    expect(rest).toEqual(Array.from({ length: 5 }, () => ({ state: "available", attempt: 0 })))
    expect(await count(db.url, "SELECT count(*) AS n FROM processes")).toBe(0)
  })

  it("takes a repeated signal within a second as the same request, and a later one as 'exit now'", async () => {
    await db.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM jobs WHERE state <> 'completed'`)) // the first test's leftovers
    await db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: 4 }, () => ({ args: { sleepMs: 60_000 } }))))
    const patient = spawnWorker(db.url, { QUEUES: "default:2:0", SHUTDOWN_GRACE: "1500ms" })
    await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts WHERE pid = $1", 2, 30_000, [patient.pid])
    patient.signal("SIGINT")
    patient.signal("SIGINT") // what npm relays after the terminal's own Ctrl-C
    expect(await patient.exited).toBe(0)
    expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'running'")).toBe(0)

    const impatient = spawnWorker(db.url, { QUEUES: "default:2:0", SHUTDOWN_GRACE: "30s" })
    await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts WHERE pid = $1", 2, 30_000, [impatient.pid])
    impatient.signal("SIGINT")
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    const secondAt = Date.now()
    impatient.signal("SIGINT")
    expect(await impatient.exited).toBe(130)
    expect(Date.now() - secondAt).toBeLessThan(1_000)
  })
})
