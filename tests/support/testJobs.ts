/** Job kinds the process-level tests run; each leaves evidence in tables a test can read. */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { CronDefinition } from "../../domain/jobs/CronDefinition.ts"
import { defineCron } from "../../domain/jobs/CronDefinition.ts"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { Retryable } from "../../domain/jobs/JobErrors.ts"
import { handle } from "../../supervisors/JobRegistry.ts"

export const LEDGER_SQL = `
  CREATE TABLE IF NOT EXISTS ledger_starts (job_id bigint NOT NULL, attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE IF NOT EXISTS ledger_completions (job_id bigint PRIMARY KEY, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE IF NOT EXISTS ledger_in_flight (job_id bigint PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS ledger_violations (job_id bigint NOT NULL, what text NOT NULL);
  CREATE TABLE IF NOT EXISTS ledger_probe (key text PRIMARY KEY, running int NOT NULL, max_seen int NOT NULL);
`

/**
 * Records its start, holds an in-flight marker (a second concurrent run of the
 * same job is a violation), sleeps, then records its completion once (a second
 * completion is a violation). `hangFirstAttempt` never finishes attempt 1.
 */
export const Ledger = defineJob({
  kind: "test.ledger",
  args: Schema.Struct({
    sleepMs: Schema.optional(Schema.Number),
    firstAttemptMs: Schema.optional(Schema.Number),
    hangFirstAttempt: Schema.optional(Schema.Boolean),
    failTimes: Schema.optional(Schema.Number)
  }),
  maxAttempts: 5,
  timeout: "2 minutes"
})

export const LedgerHandler = handle(Ledger, (args, job) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO ledger_starts (job_id, attempt, pid) VALUES (${job.id}, ${job.attempt}, ${process.pid})`
    if (args.hangFirstAttempt === true && job.attempt === 1) return yield* Effect.never
    const entered = yield* sql`INSERT INTO ledger_in_flight (job_id) VALUES (${job.id}) ON CONFLICT DO NOTHING RETURNING job_id`
    if (entered.length === 0) yield* sql`INSERT INTO ledger_violations (job_id, what) VALUES (${job.id}, 'ran twice at once')`
    const ms = job.attempt === 1 && args.firstAttemptMs !== undefined ? args.firstAttemptMs : (args.sleepMs ?? 0)
    if (ms > 0) yield* Effect.sleep(ms)
    yield* sql`DELETE FROM ledger_in_flight WHERE job_id = ${job.id}`
    if (job.attempt <= (args.failTimes ?? 0)) return yield* new Retryable({ message: `planned failure ${job.attempt}` })
    const recorded = yield* sql`INSERT INTO ledger_completions (job_id, pid) VALUES (${job.id}, ${process.pid}) ON CONFLICT DO NOTHING RETURNING job_id`
    if (recorded.length === 0) yield* sql`INSERT INTO ledger_violations (job_id, what) VALUES (${job.id}, 'completed twice')`
  }).pipe(Effect.orDie)
)

/** Kills its own process, every time. */
export const Poison = defineJob({ kind: "test.poison", args: Schema.Struct({}), maxAttempts: 3 })
export const PoisonHandler = handle(Poison, () => Effect.sync(() => process.kill(process.pid, "SIGKILL")))

/** Tracks how many jobs of one concurrency key run at once. */
export const Keyed = defineJob({ kind: "test.keyed", args: Schema.Struct({ sleepMs: Schema.Number }), maxAttempts: 3 })
export const KeyedHandler = handle(Keyed, (args, job) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      INSERT INTO ledger_probe (key, running, max_seen) VALUES ('k', 1, 1)
      ON CONFLICT (key) DO UPDATE SET running = ledger_probe.running + 1,
                                      max_seen = greatest(ledger_probe.max_seen, ledger_probe.running + 1)`
    yield* Effect.sleep(args.sleepMs)
    yield* sql`UPDATE ledger_probe SET running = running - 1 WHERE key = 'k'`
    yield* sql`INSERT INTO ledger_completions (job_id, pid) VALUES (${job.id}, ${process.pid}) ON CONFLICT DO NOTHING`
  }).pipe(Effect.orDie)
)

/** The cron tick: records that its slot's job ran. */
export const Tick = defineJob({ kind: "test.tick", args: Schema.Struct({}), maxAttempts: 3 })
export const TickHandler = handle(Tick, (_, job) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO ledger_starts (job_id, attempt, pid) VALUES (${job.id}, ${job.attempt}, ${process.pid})`).pipe(
    Effect.orDie
  )
)

export const testHandlers = [LedgerHandler, PoisonHandler, KeyedHandler, TickHandler]

export const testCrons = (schedule: string | undefined): ReadonlyArray<CronDefinition> =>
  schedule === undefined ? [] : [defineCron({ name: "test.tick", schedule, job: Tick, args: {} }) as CronDefinition]
