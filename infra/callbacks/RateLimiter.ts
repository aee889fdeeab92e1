/**
 * Sliding-window rate limits in Postgres. `take` checks any number of buckets
 * and records one event in each, in one statement (`rate_take`, migration
 * 0019) that locks each bucket (an advisory lock) before counting it, so
 * concurrent requests from any number of processes never overshoot a limit.
 *
 * Run on its own, the check is its own transaction and its locks end with it:
 * requests of one bucket wait for each other only for that statement. A use
 * case that counts first and then fails or creates nothing gives its events
 * back (`release` with the same `ref`). Inside a caller's transaction the
 * events commit (or roll back) with the caller's work, the locks held to its end.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import type { RateLimit } from "./CallbackConfig.ts"

export type RateDecision =
  | { readonly allowed: true }
  /** The first full bucket (in the order given) and how long until every full bucket has room. */
  | { readonly allowed: false; readonly bucket: string; readonly retryAfter: Duration.Duration }

export interface RateBucket {
  readonly bucket: string
  readonly limit: RateLimit
}

/** Checks every bucket against its limit and, when all have room, records an event in each (tagged `ref`, to take them back later). */
export const take = (buckets: ReadonlyArray<RateBucket>, ref?: string): Effect.Effect<RateDecision, DatabaseError, SqlClient.SqlClient> =>
  buckets.length === 0
    ? Effect.succeed({ allowed: true })
    : Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ full_bucket: string; wait_ms: number }>`
          SELECT full_bucket, wait_ms FROM rate_take(
            ${buckets.map((b) => b.bucket)}::text[], ${buckets.map((b) => b.limit.limit)}::int[],
            ${buckets.map((b) => Duration.toSeconds(b.limit.window))}::float8[], ${ref ?? null}::uuid)`
      ).pipe(
        Effect.map((full): RateDecision => {
          const first = buckets.find((b) => full.some((row) => row.full_bucket === b.bucket))
          if (first === undefined) return { allowed: true }
          const waitMs = Math.max(...full.map((row) => Number(row.wait_ms)))
          return { allowed: false, bucket: first.bucket, retryAfter: Duration.millis(Math.max(0, waitMs)) }
        }),
        narrow("rate_limit.take")
      )

/** {@link take} for one bucket. */
export const hit = (bucket: string, limit: RateLimit, ref?: string): Effect.Effect<RateDecision, DatabaseError, SqlClient.SqlClient> => take([{ bucket, limit }], ref)

/** Takes back the events recorded for `ref` (a call that was never placed, a request that was never created). */
export const release = (ref: string): Effect.Effect<void, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM rate_events WHERE ref = ${ref}`).pipe(Effect.asVoid, narrow("rate_limit.release"))
