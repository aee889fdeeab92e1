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
const Addressee = Schema.Struct({ phone: Schema.String })

/** What a verification text needs stored before Twilio is asked (see `prepareText`). */
export interface CodeText {
  readonly callbackId: string
  /** When the code was issued, to the millisecond: a code issued since (a resend) is not this text's. */
  readonly issuedAt: Date
  /** The hash of the code this text carries. */
  readonly codeHash: string
  /** The `sms_messages` row to record it in. */
  readonly messageId: string
}

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

    /** When the request's code in force was issued; none when the request has no open verification. */
    const issuedAt = (callbackId: string) =>
      sql`SELECT issued_at FROM verifications WHERE callback_id = ${callbackId} AND used_at IS NULL`.pipe(
        narrow("verifications.issuedAt"),
        Effect.flatMap(decodeFirst(Issued)),
        Effect.map(Option.map((row) => row.issued_at))
      )

    /**
     * In one statement: while the request awaits verification (its row locked, as `verify` locks it) and the
     * code issued at `issuedAt` is still the one in force and unused, stores the code's hash and records the
     * text about to go out; the phone to text, or none (verified, cancelled, reissued since, gone).
     */
    const prepareText = (text: CodeText) =>
      sql`
        WITH r AS (
          SELECT id, phone FROM callback_requests WHERE id = ${text.callbackId} AND status = 'pending_verification' FOR UPDATE),
        v AS (
          UPDATE verifications SET code_hash = ${text.codeHash}
           WHERE callback_id = (SELECT id FROM r) AND used_at IS NULL
             -- the database keeps microseconds, the issue's time came back in milliseconds
             AND issued_at >= ${text.issuedAt} AND issued_at < ${text.issuedAt}::timestamptz + interval '1 millisecond'
          RETURNING callback_id),
        m AS (
          INSERT INTO sms_messages (id, callback_id, kind, generation, to_phone)
          SELECT ${text.messageId}, r.id, 'verification', 0, r.phone FROM r JOIN v ON v.callback_id = r.id
          RETURNING to_phone)
        SELECT to_phone AS phone FROM m`.pipe(
        narrow("verifications.prepareText"),
        Effect.flatMap(decodeFirst(Addressee)),
        Effect.map(Option.map((row) => row.phone))
      )

    return { lock, issuedAt, prepareText, countCheck, markVerified, reissue }
  })
}) {}
