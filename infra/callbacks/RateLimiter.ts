/**
 * Sliding-window rate limits in Postgres. `hit` checks and records one event
 * in one transaction under an advisory lock on the bucket, so concurrent
 * requests from any number of processes never overshoot a limit. Inside a
 * caller's transaction the event commits (or rolls back) with the caller's
 * work: a request that ends up refused for another reason counts nothing.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import type { RateLimit } from "./CallbackConfig.ts"

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfter: Duration.Duration }

/** Checks `bucket` against `limit` and, when allowed, records an event (tagged `ref`, to take it back later). */
export const hit = (bucket: string, limit: RateLimit, ref?: string): Effect.Effect<RateDecision, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(
      Effect.gen(function* () {
        const seconds = Duration.toSeconds(limit.window)
        yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(${"switchboard:rate:" + bucket}, 0))`
        // the limit-th newest event in the window: while it is in the window, the bucket is full
        const [blocking] = yield* sql<{ wait_ms: number }>`
          SELECT (extract(epoch FROM (at + make_interval(secs => ${seconds}) - now())) * 1000)::float8 AS wait_ms
            FROM rate_events
           WHERE bucket = ${bucket} AND at > now() - make_interval(secs => ${seconds})
           ORDER BY at DESC OFFSET ${limit.limit - 1} LIMIT 1`
        if (blocking !== undefined) return { allowed: false as const, retryAfter: Duration.millis(Math.max(0, Number(blocking.wait_ms))) }
        yield* sql`INSERT INTO rate_events (bucket, ref) VALUES (${bucket}, ${ref ?? null})`
        return { allowed: true as const }
      })
    )
  ).pipe(narrow("rate_limit.hit"))

/** Takes back the events recorded for `ref` (a call that was never placed). */
export const release = (ref: string): Effect.Effect<void, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM rate_events WHERE ref = ${ref}`).pipe(Effect.asVoid, narrow("rate_limit.release"))
