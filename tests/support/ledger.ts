/** Reading the evidence test jobs leave behind. */
import { eventually, query } from "./database.ts"

export const count = async (url: string, sql: string, values: ReadonlyArray<unknown> = []): Promise<number> =>
  Number((await query<{ n: string }>(url, sql, values))[0]?.n ?? 0)

/** Waits until `sql` counts exactly `expected` rows. */
export const countReaches = (url: string, sql: string, expected: number, timeoutMs: number, values: ReadonlyArray<unknown> = []) =>
  eventually(async () => ((await count(url, sql, values)) === expected ? true : undefined), timeoutMs, `${sql} to reach ${expected}`)
