/**
 * The daily report's statements: what one UTC day saw (requests created and
 * finished, call attempts, texts sent), and the `daily_reports` row that keeps
 * it. Storing a day again replaces its summary. `SqlError` is narrowed to
 * `DatabaseError`.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import type { CallbackStatus } from "../../domain/callbacks/CallbackState.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"

/** A UTC day as `YYYY-MM-DD`. */
export type Day = string

export interface DailySummary {
  readonly day: Day
  readonly created: number
  readonly completed: number
  readonly failed: number
  readonly expired: number
  readonly callAttempts: number
  readonly answeredAttempts: number
  readonly textsSent: number
}

/** Counts what happened on `day` (UTC midnight to midnight). */
export const summariseDay = (day: Day): Effect.Effect<DailySummary, DatabaseError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const inDay = (column: string) => sql`${sql(column)} >= start_at AND ${sql(column)} < start_at + interval '1 day'`
    const finishedAs = (status: CallbackStatus) =>
      sql`(SELECT count(*)::int FROM callback_requests, bounds WHERE status = ${status} AND ${inDay("finished_at")})`
    const [row] = yield* sql<{ created: number; completed: number; failed: number; expired: number; call_attempts: number; answered: number; texts: number }>`
      WITH bounds AS (SELECT ${day}::date::timestamp AT TIME ZONE 'UTC' AS start_at)
      SELECT (SELECT count(*)::int FROM callback_requests, bounds WHERE ${inDay("created_at")}) AS created,
             ${finishedAs("completed")} AS completed,
             ${finishedAs("failed")} AS failed,
             ${finishedAs("expired")} AS expired,
             (SELECT count(*)::int FROM call_attempts, bounds WHERE ${inDay("started_at")}) AS call_attempts,
             (SELECT count(*)::int FROM call_attempts, bounds WHERE answered AND ${inDay("started_at")}) AS answered,
             (SELECT count(*)::int FROM sms_messages, bounds WHERE sid IS NOT NULL AND ${inDay("created_at")}) AS texts`
    return {
      day,
      created: row?.created ?? 0,
      completed: row?.completed ?? 0,
      failed: row?.failed ?? 0,
      expired: row?.expired ?? 0,
      callAttempts: row?.call_attempts ?? 0,
      answeredAttempts: row?.answered ?? 0,
      textsSent: row?.texts ?? 0
    }
  }).pipe(narrow("reports.summariseDay"))

/** Stores `summary` as its day's report, replacing an earlier one. */
export const storeReport = (summary: DailySummary): Effect.Effect<void, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`
      INSERT INTO daily_reports (day, summary) VALUES (${summary.day}::date, ${JSON.stringify(summary)}::jsonb)
      ON CONFLICT (day) DO UPDATE SET summary = EXCLUDED.summary, created_at = now()`
  ).pipe(Effect.asVoid, narrow("reports.store"))
