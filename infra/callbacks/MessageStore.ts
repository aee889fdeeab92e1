/**
 * The `sms_messages` table: a row per text, written before Twilio is asked so
 * a notice or fallback goes out at most once per request generation, then
 * what Twilio reported. Reports arrive out of order: one applies only when its
 * status ranks above the stored one, by the domain's ranks
 * (domain/callbacks/CallProgress.ts). Statements run on the ambient
 * connection, so inside `inTransaction` they join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { SmsMessage, type SmsKind, type SmsStatus } from "../../domain/callbacks/Business.ts"
import { reportedMessageRank, StoredMessageStatusRanks } from "../../domain/callbacks/CallProgress.ts"
import { narrow } from "../db/DatabaseError.ts"

type Kind = typeof SmsKind.Type
type Status = typeof SmsStatus.Type

export interface NewMessage {
  readonly id: string
  readonly callbackId: string
  readonly kind: Kind
  readonly generation: number
  readonly to: string
}

const SENDING: Status = "sending"
/** A text Twilio accepted, before any report. */
const ACCEPTED: Status = "queued"
const ONCE_PER_GENERATION_EXCEPT: Kind = "verification"
const RANKED = StoredMessageStatusRanks.map(([status]) => status)
const RANKS = StoredMessageStatusRanks.map(([, rank]) => rank)

export class MessageStore extends Effect.Service<MessageStore>()("switchboard/infra/MessageStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** Records a message about to be sent; false when a notice or fallback of this generation exists already. */
    const insert = (message: NewMessage) =>
      sql`
        INSERT INTO sms_messages (id, callback_id, kind, generation, to_phone)
        VALUES (${message.id}, ${message.callbackId}, ${message.kind}, ${message.generation}, ${message.to})
        -- the index's own predicate (migrations/0002), written out so Postgres can infer the index
        ON CONFLICT (callback_id, kind, generation) WHERE kind <> ${sql.literal(`'${ONCE_PER_GENERATION_EXCEPT}'`)} DO NOTHING
        RETURNING id`.pipe(
        Effect.map((rows) => rows.length > 0),
        narrow("messages.insert")
      )

    /** Twilio took the text: its sid, and `queued` unless a report came first. */
    const setSent = (id: string, sid: string) =>
      sql`UPDATE sms_messages SET sid = ${sid}, status = CASE WHEN status = ${SENDING} THEN ${ACCEPTED} ELSE status END, updated_at = now() WHERE id = ${id}`.pipe(
        Effect.asVoid,
        narrow("messages.sent")
      )

    const setFailed = (id: string, status: Extract<Status, "unknown" | "not_sent">, error: string) =>
      sql`UPDATE sms_messages SET status = ${status}, error = ${error}, updated_at = now() WHERE id = ${id}`.pipe(Effect.asVoid, narrow("messages.failed"))

    const remove = (id: string) => sql`DELETE FROM sms_messages WHERE id = ${id}`.pipe(Effect.asVoid, narrow("messages.delete"))

    /** Applies a message status report, with Twilio's error when it names one, if it ranks above what is stored (reports arrive out of order). */
    /**
     * Applies a status report, only forward. With the webhook `delivery` it came in, the delivery's token is
     * recorded in the same statement (webhook_deliveries, as WebhookDeliveries.ts does in a transaction): a
     * retry of the delivery applies nothing. Whether the delivery was new (true without one).
     */
    const report = (id: string, status: string, sequence: number, error?: string, delivery?: { readonly token: string; readonly route: string }) => {
      const apply = sql`
        UPDATE sms_messages SET status = ${status}, last_sequence = greatest(last_sequence, ${sequence}),
               error = coalesce(${error ?? null}, error), updated_at = now()
         WHERE id = ${id}
           AND ${reportedMessageRank(status)}::int
             > coalesce((SELECT ranked.rank FROM unnest(${RANKED}::text[], ${RANKS}::int[]) AS ranked (status, rank) WHERE ranked.status = sms_messages.status), 0)`
      const applied =
        delivery === undefined
          ? Effect.as(apply, true)
          : // one round trip, atomic without a transaction: the token and the report commit together or not at all
            Effect.map(
              sql<{ fresh: boolean }>`
                WITH delivered AS (
                  INSERT INTO webhook_deliveries (token, route) VALUES (${delivery.token}, ${delivery.route})
                  ON CONFLICT (token) DO NOTHING RETURNING token
                ), applied AS (${apply} AND EXISTS (SELECT 1 FROM delivered) RETURNING 1)
                SELECT EXISTS (SELECT 1 FROM delivered) AS fresh`,
              ([row]) => row?.fresh === true
            )
      return applied.pipe(narrow("messages.report"))
    }

    /** The texts of one request, oldest first. */
    const ofRequest = (callbackId: string) =>
      sql<{ id: string; callback_id: string; kind: string; generation: number; to_phone: string; sid: string | null; status: string; error: string | null; created_at: Date; updated_at: Date }>`
        SELECT id, callback_id, kind, generation, to_phone, sid, status, error, created_at, updated_at
          FROM sms_messages WHERE callback_id = ${callbackId} ORDER BY created_at, id`.pipe(
        narrow("messages.ofRequest"),
        Effect.flatMap(
          Effect.forEach((row) =>
            Effect.orDie(
              Schema.decodeUnknown(Schema.typeSchema(SmsMessage))({
                id: row.id,
                callbackId: row.callback_id,
                kind: row.kind,
                generation: row.generation,
                to: row.to_phone,
                ...(row.sid === null ? {} : { sid: row.sid }),
                status: row.status,
                ...(row.error === null ? {} : { error: row.error }),
                createdAt: row.created_at,
                updatedAt: row.updated_at
              })
            )
          )
        )
      )

    return { insert, setSent, setFailed, remove, report, ofRequest }
  })
}) {}
