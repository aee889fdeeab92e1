/** A plain pg client per query, for checks that should not go through the code under test (no vitest: the soak uses it too). */
import pg from "pg"

export const query = async <T extends object = Record<string, unknown>>(url: string, text: string, values: ReadonlyArray<unknown> = []) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text, [...values])).rows as Array<T>
  } finally {
    await client.end()
  }
}
