import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import Pg from "pg"
import { afterEach, describe, expect, it } from "vitest"
import { sqlLayer } from "../../../infra/db/Database.ts"
import { CAPACITY, PreparingClient } from "../../../infra/db/PreparingClient.ts"
import { emptyDatabase } from "../../support/database.ts"

const pools: Array<Pg.Pool> = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})

/** One connection, so every statement lands on the same server session. */
const onePool = async () => {
  const url = await emptyDatabase()
  const pool = new Pg.Pool({ connectionString: url, max: 1, Client: PreparingClient })
  pools.push(pool)
  return { url, pool }
}

const prepared = async (pool: Pg.Pool) =>
  (await pool.query("SELECT name, statement FROM pg_prepared_statements ORDER BY prepare_time, name")).rows as Array<{
    name: string
    statement: string
  }>

describe("PreparingClient", () => {
  it("prepares a parameterised statement once per connection and reuses it", async () => {
    const { pool } = await onePool()
    const answers = []
    for (const n of [1, 2, 3]) answers.push((await pool.query("SELECT $1::int * 2 AS doubled", [n])).rows)
    expect(answers).toEqual([[{ doubled: 2 }], [{ doubled: 4 }], [{ doubled: 6 }]])
    const statements = await prepared(pool)
    expect(statements.map((s) => s.statement)).toEqual(["SELECT $1::int * 2 AS doubled"])
  })

  it("sends parameterless text as it is, so several statements in one text still run", async () => {
    const { pool } = await onePool()
    const results = (await pool.query("SELECT 1 AS a; SELECT 2 AS b")) as unknown as Array<Pg.QueryResult>
    expect(results.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]])
    expect(await prepared(pool)).toEqual([])
  })

  it("names config objects too (rows as arrays) and answers the promise form", async () => {
    const { url } = await onePool()
    const client = new PreparingClient({ connectionString: url })
    await client.connect()
    try {
      const arrays = await client.query({ text: "SELECT $1::text AS t, 7 AS n", values: ["x"], rowMode: "array" })
      expect(arrays.rows).toEqual([["x", 7]])
      const again = await client.query("SELECT $1::text AS t, 7 AS n", ["y"])
      expect(again.rows).toEqual([{ t: "y", n: 7 }])
      const names = await client.query("SELECT count(*)::int AS n FROM pg_prepared_statements")
      expect(names.rows).toEqual([{ n: 1 }])
    } finally {
      await client.end()
    }
  })

  it(`keeps at most ${CAPACITY} names on a connection, dropping the least recently used`, async () => {
    const { pool } = await onePool()
    const text = (i: number) => `SELECT $1::int + ${i} AS n`
    for (let i = 0; i < CAPACITY; i += 1) await pool.query(text(i), [1])
    await pool.query(text(0), [1]) // the first is now the most recently used; the second is the oldest
    for (let i = CAPACITY; i < CAPACITY + 20; i += 1) await pool.query(text(i), [1])
    const statements = new Set((await prepared(pool)).map((s) => s.statement))
    expect(statements.size).toBe(CAPACITY)
    expect(statements.has(text(0))).toBe(true)
    for (let i = 1; i <= 20; i += 1) expect(statements.has(text(i))).toBe(false)
    expect(statements.has(text(CAPACITY + 19))).toBe(true)
    expect((await pool.query(text(1), [1])).rows).toEqual([{ n: 2 }]) // an evicted text is prepared again
  })

  it("reads a table changed under a `SELECT *` afresh, sending the statement again outside a transaction", async () => {
    const { url, pool } = await onePool()
    await pool.query("CREATE TABLE things (id int PRIMARY KEY)")
    await pool.query("INSERT INTO things VALUES (1)")
    const select = "SELECT * FROM things WHERE id = $1"
    expect((await pool.query(select, [1])).rows).toEqual([{ id: 1 }])
    const deployer = new Pg.Client({ connectionString: url })
    await deployer.connect()
    await deployer.query("ALTER TABLE things ADD COLUMN label text NOT NULL DEFAULT 'new'")
    await deployer.end()
    expect((await pool.query(select, [1])).rows).toEqual([{ id: 1, label: "new" }])
    expect((await pool.query(select, [1])).rows).toEqual([{ id: 1, label: "new" }])
    expect((await prepared(pool)).map((s) => s.statement)).toEqual([select]) // the stale name was deallocated
  })

  it("inside a transaction hands the stale plan's error to the caller, and the connection recovers after", async () => {
    const { url, pool } = await onePool()
    await pool.query("CREATE TABLE things (id int PRIMARY KEY)")
    await pool.query("INSERT INTO things VALUES (1)")
    const select = "SELECT * FROM things WHERE id = $1"
    await pool.query(select, [1])
    const deployer = new Pg.Client({ connectionString: url })
    await deployer.connect()
    await deployer.query("ALTER TABLE things ADD COLUMN label text NOT NULL DEFAULT 'new'")
    await deployer.end()
    const client = await pool.connect()
    try {
      await client.query("BEGIN")
      await expect(client.query(select, [1])).rejects.toMatchObject({ code: "0A000" })
      await client.query("ROLLBACK")
      expect((await client.query(select, [1])).rows).toEqual([{ id: 1, label: "new" }])
    } finally {
      client.release()
    }
  })
})

describe("the application's pool (sqlLayer)", () => {
  /** Runs one parameterised statement twice through @effect/sql on a one-connection pool; the statements left prepared there. */
  const preparedAfterUse = (url: string, prepared: boolean) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* Effect.forEach([1, 2], (n) => sql<{ n: number }>`SELECT ${n}::int + 1 AS n`)
        const left = yield* sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`
        return { rows: rows.flat(), left: left.map((row) => row.statement) }
      }).pipe(Effect.provide(sqlLayer(Redacted.make(url), 1, prepared)), Effect.scoped)
    )

  it("prepares the statements @effect/sql sends, and prepares none when DATABASE_PREPARED_STATEMENTS is false", async () => {
    const url = await emptyDatabase()
    const on = await preparedAfterUse(url, true)
    expect(on.rows).toEqual([{ n: 2 }, { n: 3 }])
    expect(on.left).toEqual(["SELECT $1::int + 1 AS n"])
    const off = await preparedAfterUse(url, false)
    expect(off.rows).toEqual([{ n: 2 }, { n: 3 }])
    expect(off.left).toEqual([])
  })
})
