/**
 * The `sms_messages` table: a row per text, written before Twilio is asked so
 * a notice or fallback goes out at most once per request generation, then
 * what Twilio reported. Reports arrive out of order: one applies only when its
 * status ranks above the stored one, by the domain's ranks
 * (domain/callbacks/CallProgress.ts). Statements run on the ambient
 * connection, so inside `inTransaction` they join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
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

    /**
     * The statement recording that Twilio took the text: its sid, and `queued` unless a report came first
     * (HistoryStore's `append` runs it in the statement that records the text's event).
     */
    const setSent = (id: string, sid: string) =>
      sql`UPDATE sms_messages SET sid = ${sid}, status = CASE WHEN status = ${SENDING} THEN ${ACCEPTED} ELSE status END, updated_at = now() WHERE id = ${id}`

    const setFailed = (id: string, status: Extract<Status, "unknown" | "not_sent">, error: string) =>
      sql`UPDATE sms_messages SET status = ${status}, error = ${error}, updated_at = now() WHERE id = ${id}`.pipe(Effect.asVoid, narrow("messages.failed"))

    const remove = (id: string) => sql`DELETE FROM sms_messages WHERE id = ${id}`.pipe(Effect.asVoid, narrow("messages.delete"))

    /**
     * The statement that applies a message status report, with Twilio's error when it names one, if it ranks
     * above what is stored (reports arrive out of order) and `guard` holds (WebhookDeliveries.ts
     * `oncePerDeliveryStatement` makes it the delivery's first arrival).
     */
    const report = (id: string, status: string, sequence: number, error?: string, guard: Fragment = sql`true`) =>
      sql`
        UPDATE sms_messages SET status = ${status}, last_sequence = greatest(last_sequence, ${sequence}),
               error = coalesce(${error ?? null}, error), updated_at = now()
         WHERE id = ${id}
           AND ${reportedMessageRank(status)}::int
             > coalesce((SELECT ranked.rank FROM unnest(${RANKED}::text[], ${RANKS}::int[]) AS ranked (status, rank) WHERE ranked.status = sms_messages.status), 0)
           AND ${guard}`

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
