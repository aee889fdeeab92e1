/**
 * `Idempotency-Key` on create: the first response to a key is kept for 24
 * hours and replayed for the same body; the same key with another body is a
 * mismatch. A key is reserved inside the caller's transaction, so two requests
 * racing with one key serialise on it (the second waits for the first to
 * commit, then replays its response), and a request that fails leaves no trace.
 */
import { SqlClient } from "@effect/sql"
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import { narrow } from "../db/DatabaseError.ts"

export const IDEMPOTENCY_TTL_HOURS = 24

export type Reservation =
  | { readonly _tag: "Fresh" }
  | { readonly _tag: "Replay"; readonly status: number; readonly body: unknown }
  | { readonly _tag: "Mismatch" }

/** A stable hash of a JSON value: object keys sorted, so key order does not matter. */
export const hashBody = (value: unknown): string => {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : typeof v === "object" && v !== null
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v
  return createHash("sha256").update(JSON.stringify(canonical(value))).digest("hex")
}

export const reserve = (key: string, requestHash: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // a key past its 24 hours is free again: taken over in the same statement
    const inserted = yield* sql`
      INSERT INTO idempotency_keys (key, request_hash, status, body) VALUES (${key}, ${requestHash}, 0, 'null'::jsonb)
      ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = 0, body = EXCLUDED.body, created_at = now()
       WHERE idempotency_keys.created_at < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})
      RETURNING key`
    if (inserted.length > 0) return { _tag: "Fresh" } as Reservation
    const [existing] = yield* sql<{ request_hash: string; status: number; body: unknown }>`
      SELECT request_hash, status, body FROM idempotency_keys WHERE key = ${key}`
    if (existing === undefined) return { _tag: "Fresh" } as Reservation
    if (existing.request_hash !== requestHash) return { _tag: "Mismatch" } as Reservation
    return { _tag: "Replay", status: existing.status, body: existing.body } as Reservation
  }).pipe(narrow("idempotency.reserve"))

/**
 * Whether `reserve` would replay: a finished outcome for the key and this body, within its 24
 * hours. A read without a lock, for work that must happen before the transaction (a bot check,
 * whose token is good once, is not asked again for a request that will only be replayed).
 */
export const wouldReplay = (key: string, requestHash: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ n: number }>`
      SELECT 1 AS n FROM idempotency_keys
       WHERE key = ${key} AND request_hash = ${requestHash} AND status <> 0
         AND created_at >= now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`
  ).pipe(
    Effect.map((rows) => rows.length > 0),
    narrow("idempotency.would_replay")
  )

export const remember = (key: string, status: number, body: unknown) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE idempotency_keys SET status = ${status}, body = ${JSON.stringify(body)}::jsonb WHERE key = ${key}`).pipe(
    Effect.asVoid,
    narrow("idempotency.remember")
  )
