/**
 * Bulk operations (migrations/0015 and 0016, domain/jobs/BulkOperation.ts):
 * count what a filter matches, record an operation, and apply it one batch at
 * a time. A batch is one short transaction that locks the operation's row,
 * takes the next `limit` matching rows in a stable order up to the bound set
 * when the operation was asked for, changes those whose state the action
 * applies to with the same change a single operator action makes, and moves
 * the operation's cursor on. So an interrupted run resumes where it stopped, a
 * repeated batch changes nothing twice, and no statement holds more than
 * `limit` rows.
 *
 * - jobs: by id (above `after`, at most `up_to`), changed in one statement
 *   (OperatorChanges.ts, as JobStore.operate), all here.
 * - callback requests: by (created_at, id) (infra/callbacks/BulkCallbacks.ts);
 *   the batch's transaction and the per-request change are the caller's
 *   (src/jobs/BulkOperations.ts), since a request's change is a use case of
 *   its own (src/callbacks/Requests.ts), not one statement.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { BulkCallbackFilter, CallbackBulkAction, CallbackBulkOperation } from "../../domain/callbacks/BulkCallbacks.ts"
import { AnyBulkOperation, type BulkAction, BulkJobFilter, type BulkTarget, statesFor } from "../../domain/jobs/BulkOperation.ts"
import { bulkCallbackStatements, type CallbackBatch, type CallbackPosition } from "../callbacks/BulkCallbacks.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { incGrouped, Metrics } from "../observability/Metrics.ts"
import { matching } from "./JobFilter.ts"
import { JOBS_CHANNEL } from "./JobStore.ts"
import { operatorChange } from "./OperatorChanges.ts"

/** What a batch did. */
export interface BatchReport {
  readonly changed: number
  readonly finished: boolean
}

interface OperationRow {
  readonly id: string
  readonly target: BulkTarget
  readonly action: BulkAction
  readonly filter: unknown
  readonly up_to: string | null
  readonly after: string
  readonly matched: number
  readonly changed: number
  readonly requested_by: string
  readonly created_at: Date
  readonly finished_at: Date | null
}

/** The operation a row holds, from its stored (encoded) filter. */
const operationOf = (row: OperationRow): Effect.Effect<AnyBulkOperation> =>
  Effect.orDie(
    Schema.decodeUnknown(AnyBulkOperation)({
      id: row.id,
      target: row.target,
      action: row.action,
      filter: row.filter,
      matched: row.matched,
      changed: row.changed,
      requestedBy: row.requested_by,
      createdAt: row.created_at.toISOString(),
      ...(row.finished_at === null ? {} : { finishedAt: row.finished_at.toISOString() })
    })
  )

/** The operation of `row` when it targets `target`. */
const ofTarget =
  <T extends BulkTarget>(target: T) =>
  (row: OperationRow | undefined): Effect.Effect<Extract<AnyBulkOperation, { readonly target: T }>> =>
    row === undefined
      ? Effect.dieMessage("insert returned nothing")
      : Effect.flatMap(operationOf(row), (op) => (op.target === target ? Effect.succeed(op as Extract<AnyBulkOperation, { readonly target: T }>) : Effect.dieMessage(`not a ${target} operation`)))

export class BulkJobs extends Effect.Service<BulkJobs>()("switchboard/infra/BulkJobs", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const metrics = yield* Metrics

    /**
     * How many jobs the filter matches now, how many of them are in a state `action` applies to, and the largest
     * id among all jobs (the operation's bound).
     */
    const count = (filter: BulkJobFilter, action: BulkAction): Effect.Effect<{ readonly matched: number; readonly applicable: number; readonly upTo: string }, DatabaseError> =>
      sql<{ matched: number; applicable: number; up_to: string }>`
        SELECT count(*)::int AS matched,
               count(*) FILTER (WHERE state = ANY(${[...statesFor(action)]}::job_state[]))::int AS applicable,
               (SELECT coalesce(max(id), 0)::text FROM jobs) AS up_to
          FROM jobs WHERE ${matching(sql, filter)}`.pipe(
        Effect.map(([row]) => ({ matched: row?.matched ?? 0, applicable: row?.applicable ?? 0, upTo: row?.up_to ?? "0" })),
        narrow("bulk.count")
      )

    /** Records an operation (in the caller's transaction, with the job that carries it out). */
    const create = (op: { readonly id: string; readonly action: BulkAction; readonly filter: BulkJobFilter; readonly upTo: string; readonly matched: number; readonly by: string }) =>
      sql<OperationRow>`
        INSERT INTO bulk_operations (id, target, action, filter, up_to, matched, requested_by)
        VALUES (${op.id}::uuid, 'jobs', ${op.action}, ${JSON.stringify(Schema.encodeSync(BulkJobFilter)(op.filter))}::jsonb, ${op.upTo}::bigint, ${op.matched}, ${op.by})
        RETURNING *`.pipe(narrow("bulk.create"), Effect.flatMap(([row]) => ofTarget("jobs")(row)))

    /** An operation of either target. */
    const find = (id: string): Effect.Effect<Option.Option<AnyBulkOperation>, DatabaseError> =>
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
        ? Effect.succeed(Option.none())
        : sql<OperationRow>`SELECT * FROM bulk_operations WHERE id = ${id}::uuid`.pipe(
            narrow("bulk.find"),
            Effect.flatMap(([row]) => (row === undefined ? Effect.succeed(Option.none()) : Effect.map(operationOf(row), Option.some)))
          )

    /** The newest operations first. */
    const recent = (limit: number): Effect.Effect<ReadonlyArray<AnyBulkOperation>, DatabaseError> =>
      sql<OperationRow>`SELECT * FROM bulk_operations ORDER BY created_at DESC LIMIT ${limit}`.pipe(narrow("bulk.recent"), Effect.flatMap(Effect.forEach(operationOf)))

    /** Applies the next batch of operation `id` (at most `limit` jobs looked at); none when it has finished or does not exist. */
    const applyBatch = (id: string, limit: number): Effect.Effect<Option.Option<BatchReport>, DatabaseError> =>
      sql
        .withTransaction(
          Effect.gen(function* () {
            const [op] = yield* sql<OperationRow>`SELECT * FROM bulk_operations WHERE id = ${id}::uuid AND target = 'jobs' FOR UPDATE`
            if (op === undefined || op.finished_at !== null) return Option.none<{ readonly report: BatchReport; readonly cancelled: ReadonlyArray<{ readonly queue: string; readonly kind: string }> }>()
            const filter = yield* Effect.orDie(Schema.decodeUnknown(BulkJobFilter)(op.filter))
            const batch = (yield* sql<{ id: string }>`
              SELECT jobs.id::text AS id FROM jobs WHERE ${matching(sql, filter)} AND jobs.id > ${op.after}::bigint AND jobs.id <= ${op.up_to}::bigint
               ORDER BY jobs.id LIMIT ${limit}`).map((r) => r.id) // by the number: `id` alone would be the text column
            const changed = batch.length === 0 ? [] : yield* operatorChange(sql, op.action, sql`id = ANY(${batch}::bigint[])`)
            const finished = batch.length < limit
            yield* sql`
              UPDATE bulk_operations SET after = ${batch.at(-1) ?? op.after}::bigint, changed = changed + ${changed.length},
                                         finished_at = CASE WHEN ${finished} THEN now() END
               WHERE id = ${id}::uuid`
            if (op.action === "retry" && changed.length > 0) {
              yield* sql`SELECT pg_notify(${JOBS_CHANNEL}, q) FROM unnest(${[...new Set(changed.map((c) => c.queue))]}::text[]) AS q`
            }
            return Option.some({ report: { changed: changed.length, finished }, cancelled: op.action === "cancel" ? changed : [] })
          })
        )
        .pipe(
          narrow("bulk.applyBatch"),
          // counted once the batch has committed
          Effect.tap(Option.match({ onNone: () => undefined, onSome: ({ cancelled }) => incGrouped(metrics.jobsFinished, cancelled, ({ queue, kind }) => ({ queue, kind, outcome: "cancelled" })) })),
          Effect.map(Option.map(({ report }) => report))
        )

    const statements = bulkCallbackStatements(sql)
    /** Callback requests: the statements of a batch run in the caller's transaction (see the module's comment). */
    const callbacks = {
      count: (filter: BulkCallbackFilter, action: CallbackBulkAction) => statements.count(filter, action).pipe(narrow("bulk.callbacks.count")),
      create: (op: Parameters<typeof statements.create>[0]): Effect.Effect<CallbackBulkOperation, DatabaseError> =>
        statements.create(op).pipe(narrow("bulk.callbacks.create"), Effect.flatMap(([row]) => ofTarget("callbacks")(row as OperationRow | undefined))),
      /** Locks the operation until the transaction ends: its next requests, or none when it has finished. */
      nextBatch: (id: string, limit: number): Effect.Effect<Option.Option<CallbackBatch>, DatabaseError> => statements.nextBatch(id, limit).pipe(narrow("bulk.callbacks.nextBatch")),
      advance: (id: string, last: CallbackPosition | undefined, changed: number, finished: boolean): Effect.Effect<void, DatabaseError> =>
        statements.advance(id, last, changed, finished).pipe(narrow("bulk.callbacks.advance"))
    } as const

    return { count, create, find, recent, applyBatch, callbacks } as const
  })
}) {}
