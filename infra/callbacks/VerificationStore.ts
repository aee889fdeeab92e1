/**
 * The `verifications` table: one row per request, the hash of the code in
 * force, its checks and every send. Statements run on the ambient connection,
 * so inside `inTransaction` they join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { narrow } from "../db/DatabaseError.ts"
import { decodeFirst, VerificationRow } from "./Rows.ts"

export type { VerificationRecord } from "./Rows.ts"

const Issued = Schema.Struct({ issued_at: Schema.DateFromSelf })

/**
 * The verification rows of new requests, as a statement to put in a CTE over `rows` (a CTE of
 * inserted `callback_requests`: RequestStore.create): no code yet, the first send recorded now.
 */
export const openFrom = (sql: SqlClient.SqlClient, rows: string) => sql`
  INSERT INTO verifications (callback_id, sends) SELECT ${sql(rows)}.id, ARRAY[now()] FROM ${sql(rows)}`

export class VerificationStore extends Effect.Service<VerificationStore>()("switchboard/infra/VerificationStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** The request's verification, locked until the transaction ends. */
    const lock = (callbackId: string) =>
      sql`SELECT code_hash, issued_at, checks, used_at, sends FROM verifications WHERE callback_id = ${callbackId} FOR UPDATE`.pipe(
        narrow("verifications.lock"),
        Effect.flatMap(decodeFirst(VerificationRow))
      )

    const setCodeHash = (callbackId: string, hash: string) =>
      sql`UPDATE verifications SET code_hash = ${hash} WHERE callback_id = ${callbackId} AND used_at IS NULL`.pipe(Effect.asVoid, narrow("verifications.code"))

    const countCheck = (callbackId: string) =>
      sql`UPDATE verifications SET checks = checks + 1 WHERE callback_id = ${callbackId}`.pipe(Effect.asVoid, narrow("verifications.check"))

    const markVerified = (callbackId: string) =>
      sql`UPDATE verifications SET used_at = now(), code_hash = NULL WHERE callback_id = ${callbackId}`.pipe(Effect.asVoid, narrow("verifications.use"))

    /** A new code is due: the old one stops working at once, and the send is recorded; when it was issued. */
    const reissue = (callbackId: string) =>
      sql`
        UPDATE verifications SET code_hash = NULL, issued_at = now(), checks = 0, sends = sends || now()
         WHERE callback_id = ${callbackId} RETURNING issued_at`.pipe(
        narrow("verifications.reissue"),
        Effect.flatMap(decodeFirst(Issued)),
        Effect.map(Option.match({ onNone: () => new Date(), onSome: (row) => row.issued_at }))
      )

    return { lock, setCodeHash, countCheck, markVerified, reissue }
  })
}) {}
