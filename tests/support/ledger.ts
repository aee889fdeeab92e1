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
