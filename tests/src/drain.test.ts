/**
 * An operator's drain request to a real process (src/runMain.ts, the default
 * ProcessStop): its heartbeat sees the request and the process shuts down as
 * on SIGTERM. The running job finishes, the row goes, the exit code is 0 (a
 * second signal more than a second later would have made it 143).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { describe, expect, it } from "vitest"
import { EngineControls } from "../../infra/jobs/EngineControls.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { databaseLayer, query } from "../support/database.ts"
import { count, countReaches, ledgerDatabase, WITH_WORKERS_MS } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { Ledger } from "../support/testJobs.ts"

describe("a drain request to a running process", () => {
  const db = ledgerDatabase()

  it(
    "shuts it down gracefully at its next heartbeat: the running job completes, its row goes, it exits 0",
    async () => {
      await db.runtime.runPromise(enqueue(Ledger, { sleepMs: 3_000 }))
      const worker = spawnWorker(db.url, { QUEUES: "default:2", SHUTDOWN_GRACE: "10s" })
      await countReaches(db.url, "SELECT count(*) AS n FROM ledger_starts", 1, 120_000)
      const [row] = await query<{ id: string }>(db.url, "SELECT id FROM processes")
      const controls = ManagedRuntime.make(EngineControls.Default.pipe(Layer.provide(databaseLayer(db.url, 1))))
      try {
        expect(await controls.runPromise(Effect.flatMap(EngineControls, (c) => c.requestDrain(row?.id ?? "", "ada")))).toBe(true)
      } finally {
        await controls.dispose()
      }
      expect(await worker.exited).toBe(0)
      expect(worker.output()).toContain("an operator asked this process to drain")
      expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions")).toBe(1)
      expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'")).toBe(1)
      expect(await count(db.url, "SELECT count(*) AS n FROM processes")).toBe(0)
    },
    WITH_WORKERS_MS
  )
})
