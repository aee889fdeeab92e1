/**
 * The statements of a bulk operation on callback requests (migrations/0016,
 * domain/callbacks/BulkCallbacks.ts), which BulkJobs serves: the callbacks
 * list's filter as a SQL condition, the count an operator confirms, and the
 * walk in batches. Requests have uuid ids, so the walk follows the list's own
 * key, (created_at, id), carried as `<microseconds since the epoch>.<id>`
 * text so that no bound loses the microseconds a JavaScript Date cannot hold.
 * The change itself is the single-request operator action's
 * (src/callbacks/Requests.ts), applied request by request by the caller in
 * the batch's transaction (src/jobs/BulkOperations.ts).
 */
import type { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { BulkCallbackFilter, type CallbackBulkAction, statusesFor } from "../../domain/callbacks/BulkCallbacks.ts"
import { matchingCallbacks } from "./CallbackFilter.ts"

/** A request's place in the walk: its creation to the microsecond, and its id. */
export interface CallbackPosition {
  readonly createdMicros: string
  readonly id: string
}

/** The next requests of an operation, in walk order. */
export interface CallbackBatch {
  readonly action: CallbackBulkAction
  readonly requests: ReadonlyArray<CallbackPosition>
}

const microsOf = (sql: SqlClient.SqlClient, column: string) => sql`(extract(epoch FROM ${sql(column)}) * 1000000)::bigint::text`
const instantOf = (sql: SqlClient.SqlClient, micros: string) => sql`(timestamptz 'epoch' + ${micros}::bigint * interval '1 microsecond')`

/** `(created_at, id)` of `c` after `position` (strictly) or at or before it. */
const beyond = (sql: SqlClient.SqlClient, position: CallbackPosition) => sql`(c.created_at, c.id) > (${instantOf(sql, position.createdMicros)}, ${position.id}::uuid)`
const within = (sql: SqlClient.SqlClient, position: CallbackPosition) => sql`(c.created_at, c.id) <= (${instantOf(sql, position.createdMicros)}, ${position.id}::uuid)`

const positionOf = (micros: string | null, id: string | null): Option.Option<CallbackPosition> =>
  micros === null || id === null ? Option.none() : Option.some({ createdMicros: micros, id })

export const bulkCallbackStatements = (sql: SqlClient.SqlClient) => {
  /** How many requests the filter matches now, how many are in a status `action` applies to, and the newest request of all (the operation's bound). */
  const count = (filter: BulkCallbackFilter, action: CallbackBulkAction) =>
    sql<{ matched: number; applicable: number; up_to_micros: string | null; up_to_id: string | null }>`
      WITH newest AS (SELECT created_at, id FROM callback_requests ORDER BY created_at DESC, id DESC LIMIT 1)
      SELECT count(*)::int AS matched,
             count(*) FILTER (WHERE c.status = ANY(${[...statusesFor(action)]}::text[]))::int AS applicable,
             (SELECT ${microsOf(sql, "created_at")} FROM newest) AS up_to_micros,
             (SELECT id::text FROM newest) AS up_to_id
        FROM callback_requests c WHERE ${matchingCallbacks(sql, filter)}`.pipe(
      Effect.map(([row]) => ({ matched: row?.matched ?? 0, applicable: row?.applicable ?? 0, upTo: positionOf(row?.up_to_micros ?? null, row?.up_to_id ?? null) }))
    )

  /** Records an operation bounded to `upTo` (none: there were no requests, it matches nothing). */
  const create = (op: { readonly id: string; readonly action: CallbackBulkAction; readonly filter: BulkCallbackFilter; readonly upTo: Option.Option<CallbackPosition>; readonly matched: number; readonly by: string }) => {
    const bound = Option.getOrNull(op.upTo)
    return sql`
      INSERT INTO bulk_operations (id, target, action, filter, up_to, up_to_created, up_to_id, matched, requested_by)
      VALUES (${op.id}::uuid, 'callbacks', ${op.action}, ${JSON.stringify(Schema.encodeSync(BulkCallbackFilter)(op.filter))}::jsonb, NULL,
              ${bound === null ? sql`NULL` : instantOf(sql, bound.createdMicros)}, ${bound?.id ?? null}::uuid, ${op.matched}, ${op.by})
      RETURNING *`
  }

  /**
   * Locks operation `id` until the transaction ends and reads its next `limit` requests (the filter's, after
   * the last one looked at, up to the bound); none when it has finished or is not a callbacks operation.
   */
  const nextBatch = (id: string, limit: number) =>
    Effect.gen(function* () {
      const [op] = yield* sql<{ action: CallbackBulkAction; filter: unknown; up_to_micros: string | null; up_to_id: string | null; after_micros: string | null; after_id: string | null }>`
        SELECT action, filter, ${microsOf(sql, "up_to_created")} AS up_to_micros, up_to_id::text AS up_to_id,
               ${microsOf(sql, "after_created")} AS after_micros, after_id::text AS after_id
          FROM bulk_operations WHERE id = ${id}::uuid AND target = 'callbacks' AND finished_at IS NULL FOR UPDATE`
      if (op === undefined) return Option.none<CallbackBatch>()
      const filter = yield* Effect.orDie(Schema.decodeUnknown(BulkCallbackFilter)(op.filter))
      const upTo = positionOf(op.up_to_micros, op.up_to_id)
      if (Option.isNone(upTo)) return Option.some<CallbackBatch>({ action: op.action, requests: [] })
      const after = positionOf(op.after_micros, op.after_id)
      const requests = yield* sql<{ id: string; created_micros: string }>`
        SELECT c.id::text AS id, ${microsOf(sql, "c.created_at")} AS created_micros
          FROM callback_requests c
         WHERE ${matchingCallbacks(sql, filter)} AND ${within(sql, upTo.value)} AND ${Option.match(after, { onNone: () => sql`true`, onSome: (p) => beyond(sql, p) })}
         ORDER BY c.created_at, c.id
         LIMIT ${limit}` // by the columns themselves: `id` alone would be the text
      return Option.some<CallbackBatch>({ action: op.action, requests: requests.map((r) => ({ createdMicros: r.created_micros, id: r.id })) })
    })

  /** Moves operation `id` past `last` (the last request its batch looked at), counts what the batch changed, and marks it finished. */
  const advance = (id: string, last: CallbackPosition | undefined, changed: number, finished: boolean) =>
    sql`
      UPDATE bulk_operations
         SET after_created = ${last === undefined ? sql`after_created` : instantOf(sql, last.createdMicros)},
             after_id = ${last === undefined ? sql`after_id` : sql`${last.id}::uuid`},
             changed = changed + ${changed},
             finished_at = CASE WHEN ${finished} THEN now() END
       WHERE id = ${id}::uuid AND target = 'callbacks'`.pipe(Effect.asVoid)

  return { count, create, nextBatch, advance } as const
}
