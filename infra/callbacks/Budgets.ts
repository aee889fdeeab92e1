/**
 * Budgets on texts and calls (migrations/0011_budgets.sql): caps per business
 * and for the whole account over sliding windows, counted exactly across
 * processes by `budget_take`, which locks the buckets' rows to the end of the
 * caller's transaction. Every statement runs on the ambient connection, so
 * inside `inTransaction` it commits (or rolls back) with the caller's work.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { OperationalEventType } from "../../domain/OperationalEvents.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import type { CallbackSettings, RateLimit } from "./CallbackConfig.ts"
import { lockEndOf } from "./Lockout.ts"
import { recordOperational } from "./HistoryStore.ts"

export type BudgetChannel = "sms" | "call"
export type BudgetScope = "business" | "account"

export type BudgetLimits = CallbackSettings["budgets"]

/** One cap: its bucket's name, scope and limit. */
export interface BudgetBucket {
  readonly name: string
  readonly scope: BudgetScope
  readonly limit: RateLimit
}

/** The buckets one text or call of `businessId` counts in. */
export const bucketsFor = (limits: BudgetLimits, channel: BudgetChannel, businessId: string): ReadonlyArray<BudgetBucket> => [
  ...limits[channel].business.map((limit) => ({ name: `budget:${channel}:business:${businessId}:${Duration.toMillis(limit.window)}`, scope: "business" as const, limit })),
  ...limits[channel].account.map((limit) => ({ name: `budget:${channel}:account:${Duration.toMillis(limit.window)}`, scope: "account" as const, limit }))
]

export type BudgetDecision =
  | { readonly allowed: true }
  /** The full bucket that waits longest, and how long until every bucket has room. */
  | { readonly allowed: false; readonly bucket: BudgetBucket; readonly retryAfter: Duration.Duration }

const counts = (sql: SqlClient.SqlClient, buckets: ReadonlyArray<BudgetBucket>, ref: string | undefined) =>
  sql<{ full_bucket: string; wait_ms: number }>`
    SELECT full_bucket, wait_ms::float8 AS wait_ms FROM budget_take(
      ${buckets.map((b) => b.name)}::text[], ${buckets.map((b) => b.limit.limit)}::int[],
      ${buckets.map((b) => Duration.toSeconds(b.limit.window))}::float8[], ${ref ?? null}::uuid)`

/** How much of each bucket is spent now: the events still inside its window (one index range per bucket). */
export const usage = (buckets: ReadonlyArray<BudgetBucket>): Effect.Effect<ReadonlyArray<{ readonly bucket: BudgetBucket; readonly used: number }>, DatabaseError, SqlClient.SqlClient> =>
  buckets.length === 0
    ? Effect.succeed([])
    : Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ bucket: string; used: number }>`
          SELECT b.bucket, (SELECT count(*)::int FROM budget_events e WHERE e.bucket = b.bucket AND e.at > now() - make_interval(secs => b.secs)) AS used
            FROM unnest(${buckets.map((b) => b.name)}::text[], ${buckets.map((b) => Duration.toSeconds(b.limit.window))}::float8[]) AS b(bucket, secs)`
      ).pipe(
        Effect.map((rows) => buckets.map((bucket) => ({ bucket, used: rows.find((r) => r.bucket === bucket.name)?.used ?? 0 }))),
        narrow("budget.usage")
      )

/** The decision `budget_take`'s rows (the full buckets, and how long each waits) make. */
const decide = (buckets: ReadonlyArray<BudgetBucket>, full: ReadonlyArray<{ readonly full_bucket: string; readonly wait_ms: number }>): BudgetDecision => {
  let worst: { bucket: BudgetBucket; waitMs: number } | undefined
  for (const row of full) {
    const bucket = buckets.find((b) => b.name === row.full_bucket)
    const waitMs = Number(row.wait_ms)
    if (bucket !== undefined && (worst === undefined || waitMs > worst.waitMs)) worst = { bucket, waitMs }
  }
  return worst === undefined ? { allowed: true } : { allowed: false, bucket: worst.bucket, retryAfter: Duration.millis(worst.waitMs) }
}

/** Counts one text or call (tagged `ref`, to release or hand on later) in every bucket, or, when one is full, in none. */
export const take = (buckets: ReadonlyArray<BudgetBucket>, ref?: string): Effect.Effect<BudgetDecision, DatabaseError, SqlClient.SqlClient> =>
  buckets.length === 0
    ? Effect.succeed({ allowed: true })
    : Effect.flatMap(SqlClient.SqlClient, (sql) => counts(sql, buckets, ref)).pipe(
        Effect.map((full) => decide(buckets, full)),
        narrow("budget.take")
      )

/**
 * {@link take}, and in the same statement until when `phone` is locked after failed verifications, if it
 * is now. Inside a transaction that a lockout fails: what was counted for a locked phone rolls back with it.
 */
export const takeUnlessLocked = (
  phone: string,
  buckets: ReadonlyArray<BudgetBucket>,
  ref?: string
): Effect.Effect<{ readonly lockedUntil: Option.Option<Date>; readonly decision: BudgetDecision }, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ locked_until: Date | null; full: ReadonlyArray<{ full_bucket: string; wait_ms: number }> }>`
      SELECT (${lockEndOf(sql, phone)}) AS locked_until,
             ${buckets.length === 0 ? sql`'[]'::json` : sql`coalesce((SELECT json_agg(t) FROM (${counts(sql, buckets, ref)}) AS t), '[]'::json)`} AS full`
  ).pipe(
    Effect.map(([row]) => ({ lockedUntil: Option.fromNullable(row?.locked_until), decision: decide(buckets, row?.full ?? []) })),
    narrow("budget.takeUnlessLocked")
  )

/** Takes back what was counted for `ref` (a call that was never placed, a text that was never sent). */
export const release = (ref: string): Effect.Effect<void, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT budget_release(${ref}::uuid)`).pipe(Effect.asVoid, narrow("budget.release"))

/**
 * Hands what was counted for `from` in `channel` on to `to` (the call promised at verify, to the attempt that
 * places it); whether there was anything to hand on (an event that left its window is gone).
 */
export const handOn = (from: string, to: string, channel: BudgetChannel): Effect.Effect<boolean, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ n: number }>`
      WITH moved AS (UPDATE budget_events SET ref = ${to}::uuid WHERE ref = ${from}::uuid AND bucket LIKE ${`budget:${channel}:%`} RETURNING 1)
      SELECT count(*)::int AS n FROM moved`
  ).pipe(
    Effect.map(([row]) => (row?.n ?? 0) > 0),
    narrow("budget.handOn")
  )

export interface Exhaustion {
  readonly bucket: BudgetBucket
  readonly channel: BudgetChannel
  readonly businessId: string
  readonly retryAt: Date
  /** What ran into it: `create`, `resend`, `verify`, `callback.dial`, `callback.sms_fallback`. */
  readonly during: string
}

const EXHAUSTED: OperationalEventType = "budget.exhausted"

/**
 * Records that a bucket refused: the operational event `budget.exhausted`, once per episode (the first
 * refusal after a take); whether this refusal began the episode.
 */
export const noteExhausted = (exhaustion: Exhaustion): Effect.Effect<boolean, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(
      Effect.gen(function* () {
        const { bucket } = exhaustion
        const began = yield* sql`
          UPDATE budget_buckets SET exhausted_at = now() WHERE bucket = ${bucket.name} AND exhausted_at IS NULL RETURNING 1`
        if (began.length === 0) return false
        yield* recordOperational(sql, {
          type: EXHAUSTED,
          subject: bucket.scope === "business" ? exhaustion.businessId : "account",
          businessId: bucket.scope === "business" ? exhaustion.businessId : undefined,
          data: {
            channel: exhaustion.channel,
            scope: bucket.scope,
            limit: bucket.limit.limit,
            window: Duration.format(bucket.limit.window),
            retryAt: exhaustion.retryAt.toISOString(),
            during: exhaustion.during
          }
        })
        return true
      })
    )
  ).pipe(narrow("budget.noteExhausted"))

/** Marks that a request's job waits for a `channel` budget; true when it did not already (a new episode). */
export const beginWait = (callbackId: string, channel: BudgetChannel): Effect.Effect<boolean, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`INSERT INTO budget_waits (callback_id, channel) VALUES (${callbackId}, ${channel}) ON CONFLICT DO NOTHING RETURNING 1`
  ).pipe(
    Effect.map((rows) => rows.length > 0),
    narrow("budget.beginWait")
  )

/** The request's job got its budget: the episode is over. */
export const endWait = (callbackId: string, channel: BudgetChannel): Effect.Effect<void, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM budget_waits WHERE callback_id = ${callbackId} AND channel = ${channel}`).pipe(
    Effect.asVoid,
    narrow("budget.endWait")
  )
