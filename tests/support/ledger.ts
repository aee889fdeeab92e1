/** Reading the evidence test jobs leave behind. */
import { afterAll, beforeAll } from "vitest"
import { cloneDatabase, eventually, query, storeRuntime } from "./database.ts"
import { LEDGER_SQL } from "./testJobs.ts"

export const count = async (url: string, sql: string, values: ReadonlyArray<unknown> = []): Promise<number> =>
  Number((await query<{ n: string }>(url, sql, values))[0]?.n ?? 0)

/** Waits until `sql` counts exactly `expected` rows. */
export const countReaches = (url: string, sql: string, expected: number, timeoutMs: number, values: ReadonlyArray<unknown> = []) =>
  eventually(async () => ((await count(url, sql, values)) === expected ? true : undefined), timeoutMs, `${sql} to reach ${expected}`)

/**
 * Waits until `n` worker processes have registered. Spawned processes start slowly when the machine
 * is busy (each compiles the app with tsx): this is a wait for the setup, not a measure of anything.
 */
export const workersUp = (url: string, n: number) => countReaches(url, "SELECT count(*) AS n FROM processes", n, 120_000)

/** How long a test that spawns workers may take: their start, then its own work. */
export const WITH_WORKERS_MS = 240_000

/**
 * A database of its own for one test file, with the ledger tables and a job-store
 * runtime for enqueueing; registered with the file's beforeAll/afterAll.
 */
export const ledgerDatabase = () => {
  const state = {} as { url: string; runtime: ReturnType<typeof storeRuntime> }
  beforeAll(async () => {
    state.url = await cloneDatabase()
    await query(state.url, LEDGER_SQL)
    state.runtime = storeRuntime(state.url)
  })
  afterAll(() => state.runtime?.dispose())
  return state
}
