/**
 * `npm run bench:roundtrip`: what one PostgreSQL round trip costs the process
 * that sends it, over the embedded server's Unix socket, one statement at a
 * time: through `pg` itself (unnamed, and named by the app's PreparingClient),
 * through `@effect/sql` on the app's pool (as the app's repositories send
 * them; also with Effect's tracer off, which is what a span per statement
 * costs), and inside `sql.withTransaction` (BEGIN and COMMIT counted in).
 * Prints, per way, the wall time and this process's CPU (user + system) per
 * statement, the median of BENCH_ROUNDS (5) rounds of BENCH_STATEMENTS (5,000).
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import pg from "pg"
import { sqlLayer } from "../infra/db/Database.ts"
import { PreparingClient } from "../infra/db/PreparingClient.ts"
import { env, freshDatabase, median, runBench } from "./harness.ts"

const ROUNDS = env("BENCH_ROUNDS", 5)
const STATEMENTS = env("BENCH_STATEMENTS", 5_000)

/** Wall and CPU microseconds per statement of `round`, which sends STATEMENTS statements. */
const perStatement = async (round: () => Promise<unknown>) => {
  const walls: Array<number> = []
  const cpus: Array<number> = []
  await round() // warm-up: connections open, code compiled
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await round()
    const cpu = process.cpuUsage(cpu0)
    walls.push(((performance.now() - t0) * 1000) / STATEMENTS)
    cpus.push((cpu.user + cpu.system) / STATEMENTS)
  }
  return `${median(walls).toFixed(0)} | ${median(cpus).toFixed(0)}`
}

runBench(async (adminUrl) => {
  const url = await freshDatabase(adminUrl, "roundtrip")
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const preparing = new PreparingClient({ connectionString: url })
  await preparing.connect()
  const runtime = ManagedRuntime.make(sqlLayer(Redacted.make(url), 2))
  try {
    const statements = Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (let i = 0; i < STATEMENTS; i++) yield* sql`SELECT ${i}::int AS n`
    })
    // three statements and BEGIN and COMMIT per transaction: STATEMENTS round trips in all
    const transactions = Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (let i = 0; i < STATEMENTS / 5; i++) yield* sql.withTransaction(Effect.all([sql`SELECT ${i}::int AS n`, sql`SELECT ${i}::int AS n`, sql`SELECT ${i}::int AS n`]))
    })
    console.log(`${STATEMENTS} round trips per round, median of ${ROUNDS} rounds`)
    console.log("")
    console.log("| how | µs per round trip (wall) | µs of this process's CPU per round trip |")
    console.log("|---|---|---|")
    console.log(`| pg, client.query | ${await perStatement(async () => { for (let i = 0; i < STATEMENTS; i++) await client.query("SELECT $1::int AS n", [i]) })} |`)
    console.log(`| pg, PreparingClient (named) | ${await perStatement(async () => { for (let i = 0; i < STATEMENTS; i++) await preparing.query("SELECT $1::int AS n", [i]) })} |`)
    console.log(`| @effect/sql, one statement | ${await perStatement(() => runtime.runPromise(statements))} |`)
    console.log(`| @effect/sql, one statement, tracer off | ${await perStatement(() => runtime.runPromise(Effect.withTracerEnabled(statements, false)))} |`)
    console.log(`| @effect/sql, in transactions (BEGIN, 3 statements, COMMIT) | ${await perStatement(() => runtime.runPromise(transactions))} |`)
  } finally {
    await client.end()
    await preparing.end()
    await runtime.dispose()
  }
})
