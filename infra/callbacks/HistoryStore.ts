/**
 * The `callback_events` table (migrations/0006_callback_events.sql): the
 * append-only history of every request, and the reads that follow it.
 *
 * Writing: an event is inserted by the statement that makes its change (a
 * status move is one `UPDATE ... RETURNING` feeding an `INSERT` in the same
 * statement, RequestStore.applyEvent), or by `append` in the caller's
 * transaction, so an event exists if and only if its change committed. Every
 * insert claims the request's next `seq` by bumping `event_seq` on the
 * request's row ({@link nextSeq}) and NOTIFYs `@events` and `@events:<request id>`
 * on the jobs channel, sent at commit, each once per transaction.
 *
 * Reading: a request's events by `seq`; the global history in (tx, position)
 * order, only below the oldest running transaction (`pg_snapshot_xmin`), so
 * a cursor never skips an event that commits late (the migration's header).
 */
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { EventPayloads, HistoryEvent, type HistoryEventType, type PayloadOf } from "../../domain/callbacks/History.ts"
import { OperationalEvent, type OperationalEventType } from "../../domain/OperationalEvents.ts"
import { narrow } from "../db/DatabaseError.ts"
import { JOBS_CHANNEL } from "../jobs/JobStore.ts"

/** The notification every committed event sends (once per transaction): streams of all events read the history when it arrives. */
export const EVENTS_WAKEUP = "@events"

/** The notification a committed event of one request sends: that request's streams read its history. */
export const requestWakeup = (callbackId: string): string => `${EVENTS_WAKEUP}:${callbackId}`

/** A place in the global history: after (tx, position). The start is `{ tx: "0", position: "0" }`. */
export interface Cursor {
  readonly tx: string
  readonly position: string
}

export const START: Cursor = { tx: "0", position: "0" }

/** `<tx>.<position>`, an event's `position` on the wire and its SSE id. */
export const formatCursor = (cursor: Cursor): string => `${cursor.tx}.${cursor.position}`

/** A cursor from its text; none when it is not one. */
export const parseCursor = (text: string): Cursor | undefined => {
  const match = /^(\d{1,20})\.(\d{1,19})$/.exec(text.trim())
  return match === null ? undefined : { tx: match[1] ?? "0", position: match[2] ?? "0" }
}

const EventColumns = Schema.Struct({
  position: Schema.String,
  id: Schema.String,
  tx: Schema.String,
  callback_id: Schema.String,
  business_id: Schema.String,
  seq: Schema.Number,
  type: Schema.String,
  status: Schema.String,
  data: Schema.Unknown,
  at: Schema.DateFromSelf
})

/** A row as the domain's event (its payload decoded by its type's schema); a row the model does not know is a defect. */
const decodeEvent = (row: unknown) =>
  Effect.orDie(
    Effect.flatMap(Schema.decodeUnknown(EventColumns)(row), (r) =>
      Schema.decodeUnknown(HistoryEvent)({
        id: r.id,
        callbackId: r.callback_id,
        businessId: r.business_id,
        seq: r.seq,
        position: formatCursor({ tx: r.tx, position: r.position }),
        status: r.status,
        at: r.at.toISOString(),
        type: r.type,
        data: r.data
      })
    )
  )

const decodeEvents = (rows: ReadonlyArray<unknown>) => Effect.forEach(rows, decodeEvent)

const OperationalColumns = Schema.Struct({
  position: Schema.String,
  id: Schema.String,
  tx: Schema.String,
  business_id: Schema.NullOr(Schema.String),
  subject: Schema.String,
  type: Schema.String,
  data: Schema.Unknown,
  at: Schema.DateFromSelf
})

const decodeOperational = (row: unknown) =>
  Effect.orDie(
    Effect.flatMap(Schema.decodeUnknown(OperationalColumns)(row), (r) =>
      Schema.decodeUnknown(OperationalEvent)({
        id: r.id,
        type: r.type,
        subject: r.subject,
        businessId: r.business_id,
        position: formatCursor({ tx: r.tx, position: r.position }),
        at: r.at.toISOString(),
        data: r.data
      })
    )
  )

/** An event of the operators' stream: a request's or the machinery's. */
export type AnyEvent = HistoryEvent | OperationalEvent

/**
 * Records an operational event (a webhook endpoint disabled, ...) in the
 * caller's transaction; the table's trigger wakes the streams at commit.
 * Job events are written by the jobs table's trigger (migrations/0008).
 */
export const recordOperational = (
  sql: SqlClient.SqlClient,
  event: { readonly type: OperationalEventType; readonly subject: string; readonly businessId?: string | undefined; readonly data: Record<string, unknown> }
) =>
  sql`INSERT INTO operational_events (business_id, type, subject, data)
      VALUES (${event.businessId ?? null}, ${event.type}, ${event.subject}, ${JSON.stringify(event.data)}::jsonb)`.pipe(
    Effect.asVoid,
    narrow(`history.${event.type}`)
  )

/** The SET items that claim a request's next event number (in the UPDATE that changes it). */
export const nextSeq = (sql: SqlClient.SqlClient) => sql`event_seq = event_seq + 1, event_tx = greatest(pg_current_xact_id(), event_tx)`

/** An event's payload as stored: its schema's encoded side. */
export const encodePayload = <T extends HistoryEventType>(type: T, data: PayloadOf<T>): unknown =>
  Schema.encodeSync(EventPayloads[type] as unknown as Schema.Schema<PayloadOf<T>, unknown>)(data)

/**
 * `INSERT`s one event of `type` per row of the CTE `rows` (rows of
 * `callback_requests` that claimed their next seq with {@link nextSeq}), its
 * payload `data` (a jsonb expression over `rows`), and wakes the streams.
 */
export const recordFrom = (sql: SqlClient.SqlClient, rows: string, type: HistoryEventType, data: Fragment) => sql`
  INSERT INTO callback_events (tx, callback_id, business_id, seq, type, status, data)
  SELECT ${sql(rows)}.event_tx, ${sql(rows)}.id, ${sql(rows)}.business_id, ${sql(rows)}.event_seq, ${type}, ${sql(rows)}.status, ${data}
    FROM ${sql(rows)}
  RETURNING pg_notify(${JOBS_CHANNEL}, ${EVENTS_WAKEUP}), pg_notify(${JOBS_CHANNEL}, ${EVENTS_WAKEUP + ":"} || callback_id::text)`

export interface GlobalFilter {
  readonly businessId?: string | undefined
  readonly limit: number
}

export class HistoryStore extends Effect.Service<HistoryStore>()("switchboard/infra/HistoryStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /**
     * Records an event that changes no status (a text sent, a call's report) in the caller's transaction;
     * with `alongside` (a data-modifying statement), in the one statement that also runs it, so the change
     * and its event commit together without a transaction of their own.
     */
    const append = <T extends HistoryEventType>(callbackId: string, type: T, data: PayloadOf<T>, alongside?: Fragment) =>
      sql`
        WITH ${alongside === undefined ? sql`` : sql`alongside AS (${alongside}),`}
        r AS (UPDATE callback_requests SET ${nextSeq(sql)} WHERE id = ${callbackId} RETURNING id, business_id, status, event_seq, event_tx)
        ${recordFrom(sql, "r", type, sql`${JSON.stringify(encodePayload(type, data))}::jsonb`)}`.pipe(Effect.asVoid, narrow(`history.${type}`))

    /** A request's events after `afterSeq` (all when 0), in order. */
    const ofRequest = (callbackId: string, afterSeq = 0, limit = 1000) =>
      sql`SELECT * FROM callback_events WHERE callback_id = ${callbackId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`.pipe(
        narrow("history.ofRequest"),
        Effect.flatMap(decodeEvents)
      )

    /**
     * Events after `cursor` in the global order, only those no running transaction can still precede
     * (below the oldest running transaction id), so the next read from the last one's cursor misses none.
     */
    const after = (cursor: Cursor, filter: GlobalFilter) =>
      sql`
        SELECT * FROM callback_events
         WHERE (tx, position) > (${cursor.tx}::xid8, ${cursor.position}::bigint)
           AND tx < pg_snapshot_xmin(pg_current_snapshot())
           AND ${filter.businessId === undefined ? sql`true` : sql`business_id = ${filter.businessId}`}
         ORDER BY tx, position
         LIMIT ${filter.limit}`.pipe(narrow("history.after"), Effect.flatMap(decodeEvents))

    /**
     * Request and operational events after `cursor`, merged in the one global order, under the same
     * horizon as {@link after}. With a business filter, operational events of no business are left out.
     */
    const everythingAfter = (cursor: Cursor, filter: GlobalFilter) =>
      Effect.gen(function* () {
        const where = (table: string) => sql`
          (tx, position) > (${cursor.tx}::xid8, ${cursor.position}::bigint)
          AND tx < pg_snapshot_xmin(pg_current_snapshot())
          AND ${filter.businessId === undefined ? sql`true` : sql`${sql(table)}.business_id = ${filter.businessId}`}`
        const rows = yield* sql<{ source: "request" | "operational"; row: unknown }>`
          SELECT source, row FROM (
            (SELECT 'request' AS source, tx, position, to_jsonb(e) AS row FROM callback_events e
              WHERE ${where("e")} ORDER BY tx, position LIMIT ${filter.limit})
            UNION ALL
            (SELECT 'operational', tx, position, to_jsonb(o) FROM operational_events o
              WHERE ${where("o")} ORDER BY tx, position LIMIT ${filter.limit})
          ) merged ORDER BY tx, position LIMIT ${filter.limit}`.pipe(narrow("history.everythingAfter"))
        return yield* Effect.forEach(rows, ({ row, source }): Effect.Effect<AnyEvent> => {
          const r = { ...(row as Record<string, unknown>) }
          r["at"] = new Date(String(r["at"]))
          r["position"] = String(r["position"])
          r["tx"] = String(r["tx"])
          return source === "request" ? decodeEvent(r) : decodeOperational(r)
        })
      })

    /**
     * Whether committed events lie past `cursor` beyond the read horizon (a transaction that began
     * before theirs is still running): a stream that read everything visible polls until they show.
     */
    const hiddenAfter = (cursor: Cursor, filter: Omit<GlobalFilter, "limit">) => {
      const where = (table: string) => sql`
        (tx, position) > (${cursor.tx}::xid8, ${cursor.position}::bigint)
        AND tx >= pg_snapshot_xmin(pg_current_snapshot())
        AND ${filter.businessId === undefined ? sql`true` : sql`${sql(table)}.business_id = ${filter.businessId}`}`
      return sql<{ hidden: boolean }>`
        SELECT EXISTS (SELECT 1 FROM callback_events e WHERE ${where("e")})
            OR EXISTS (SELECT 1 FROM operational_events o WHERE ${where("o")}) AS hidden`.pipe(
        narrow("history.hiddenAfter"),
        Effect.map(([row]) => row?.hidden === true)
      )
    }

    /**
     * The cursor after the last event readers can see now: where a stream that wants only new events starts.
     * Ordered by `last.tx`, the numbers: a bare `tx` would be the output's text column ("999" > "1000").
     */
    const head = sql<{ tx: string; position: string }>`
      SELECT tx::text AS tx, position::text AS position FROM (
        (SELECT tx, position FROM callback_events WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx DESC, position DESC LIMIT 1)
        UNION ALL
        (SELECT tx, position FROM operational_events WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx DESC, position DESC LIMIT 1)
      ) last ORDER BY last.tx DESC, last.position DESC LIMIT 1`.pipe(
      narrow("history.head"),
      Effect.map(([row]): Cursor => row ?? START)
    )

    /** How many events of each of `types` happened in the last `hours` hours. */
    const countRecent = (types: ReadonlyArray<HistoryEventType>, hours: number) =>
      sql<{ type: string; n: number }>`
        SELECT type, count(*)::int AS n FROM callback_events
         WHERE type = ANY(${[...types]}::text[]) AND at > now() - make_interval(hours => ${hours})
         GROUP BY type`.pipe(
        narrow("history.countRecent"),
        Effect.map((rows) => new Map(rows.map((row) => [row.type as HistoryEventType, row.n])))
      )

    /** Events of these types in each of the last `hours` hours (the current one included), oldest hour first; hours without any are left out. */
    const hourly = (types: ReadonlyArray<HistoryEventType>, hours: number) =>
      sql<{ hour: Date; type: string; n: number }>`
        SELECT date_trunc('hour', at) AS hour, type, count(*)::int AS n FROM callback_events
         WHERE type = ANY(${[...types]}::text[]) AND at > date_trunc('hour', now()) - make_interval(hours => ${hours - 1})
         GROUP BY 1, 2 ORDER BY 1`.pipe(
        narrow("history.hourly"),
        Effect.map((rows) => rows.map((row) => ({ hour: row.hour, type: row.type as HistoryEventType, n: row.n })))
      )

    /** When the request was verified (its first `callback.verified` event), if it was. */
    const verifiedAt = (callbackId: string) =>
      sql<{ at: Date }>`SELECT at FROM callback_events WHERE callback_id = ${callbackId} AND type = 'callback.verified' ORDER BY seq LIMIT 1`.pipe(
        Effect.map(([row]) => (row === undefined ? undefined : new Date(row.at))),
        narrow("history.verifiedAt")
      )

    return { append, ofRequest, after, everythingAfter, hiddenAfter, head, countRecent, hourly, verifiedAt }
  })
}) {}
