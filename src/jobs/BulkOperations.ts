/**
 * An operator's action on every job or callback request a filter matches
 * ("retry all 500 dead jobs of the dial queue", "cancel every queued request
 * of this business"). `preview` counts what the filter matches now, for the
 * operator to confirm; `start` records the operation, bounded to the rows
 * that exist then, together with the `admin.bulk` job that carries it out, in
 * one transaction. The job applies it in batches, each its own short
 * transaction (infra/jobs/BulkJobs.ts), and yields the runner after
 * `BATCHES_PER_RUN` of them (a snooze of no time, so other jobs get their
 * turn and a shutdown finds it between batches); every run resumes where the
 * last stopped.
 *
 * Jobs change `BATCH` at a time in one statement. Callback requests change
 * one by one, each exactly as the operator's single retry or cancel changes
 * it (Requests.applyOperatorChange: the status move and its history event,
 * the dial it enqueues, the live events its commit wakes), each in a
 * savepoint of the batch's transaction so that a request that may no longer
 * move (refused: its status changed, it was never verified, its visitor has
 * another active request) is left as it is and not counted. Their batches are
 * `CALLBACK_BATCH` requests: a savepoint that writes takes a subtransaction
 * id, and a transaction with more than 64 of them overflows Postgres's
 * per-backend cache, which slows every other session's visibility checks
 * while it is open.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type BulkCallbackFilter, type CallbackBulkAction, eventOf } from "../../domain/callbacks/BulkCallbacks.ts"
import type { AnyBulkOperation, BulkAction, BulkJobFilter, BulkTarget } from "../../domain/jobs/BulkOperation.ts"
import { Snooze } from "../../domain/jobs/JobErrors.ts"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { type BatchReport, BulkJobs } from "../../infra/jobs/BulkJobs.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { asJobFailure } from "../callbacks/JobFailures.ts"
import { applyOperatorChange } from "../callbacks/Requests.ts"
import { Conflict, NotFound } from "../Failures.ts"

export const BATCH = 500
export const CALLBACK_BATCH = 50
export const BATCHES_PER_RUN = 20

export const BulkRun = defineJob({
  kind: "admin.bulk",
  args: Schema.Struct({ operationId: Schema.UUID }),
  maxAttempts: 25,
  timeout: "2 minutes"
})

const stale = (noun: string, matched: number, expected: number) =>
  new Conflict({ detail: `the filter matches ${matched} ${noun} now, not the ${expected} confirmed: look again and confirm the new count`, extra: { matched } })

/** The jobs the filter matches now, and how many of them `action` would change (the others are in states it does not apply to). */
export const preview = (filter: BulkJobFilter, action: BulkAction) => Effect.flatMap(BulkJobs, (bulk) => bulk.count(filter, action))

/**
 * Starts `action` on the jobs `filter` matches; refused (409) when the count is no longer the one the
 * operator confirmed (`expected`), so nobody changes 5,000 jobs after confirming 50.
 */
export const start = (action: BulkAction, filter: BulkJobFilter, by: string, expected?: number) =>
  inTransaction(
    Effect.gen(function* () {
      const bulk = yield* BulkJobs
      const { matched, upTo } = yield* bulk.count(filter, action)
      if (expected !== undefined && expected !== matched) return yield* stale("jobs", matched, expected)
      const operation = yield* bulk.create({ id: randomUUID(), action, filter, upTo, matched, by })
      yield* enqueue(BulkRun, { operationId: operation.id }).pipe(Effect.orDie) // its arguments are always valid
      return operation
    })
  )

/** The callback requests the filter matches now, and how many of them are in a status `action` applies to. */
export const previewCallbacks = (filter: BulkCallbackFilter, action: CallbackBulkAction) =>
  Effect.flatMap(BulkJobs, (bulk) => Effect.map(bulk.callbacks.count(filter, action), ({ matched, applicable }) => ({ matched, applicable })))

/** Starts `action` on the callback requests `filter` matches, as {@link start} does for jobs. */
export const startCallbacks = (action: CallbackBulkAction, filter: BulkCallbackFilter, by: string, expected?: number) =>
  inTransaction(
    Effect.gen(function* () {
      const bulk = yield* BulkJobs
      const { matched, upTo } = yield* bulk.callbacks.count(filter, action)
      if (expected !== undefined && expected !== matched) return yield* stale("callback requests", matched, expected)
      const operation = yield* bulk.callbacks.create({ id: randomUUID(), action, filter, upTo, matched, by })
      yield* enqueue(BulkRun, { operationId: operation.id }).pipe(Effect.orDie)
      return operation
    })
  )

/** Operation `id` of any target, or of `target` only (another target's is not found). */
export const find = <T extends BulkTarget = BulkTarget>(id: string, target?: T) =>
  Effect.flatMap(BulkJobs, (bulk) => bulk.find(id)).pipe(
    Effect.flatMap((found) =>
      Option.match(Option.filter(found, (op) => target === undefined || op.target === target), {
        onNone: () => Effect.fail(new NotFound({ detail: `no bulk operation ${id}${target === undefined ? "" : ` on ${target}`}` })),
        onSome: (op) => Effect.succeed(op as Extract<AnyBulkOperation, { readonly target: T }>)
      })
    )
  )

/**
 * The next batch of callbacks operation `id`: at most `limit` requests, each changed as the single operator
 * action changes it, or left as it is when that action is refused; none when it has finished.
 */
export const applyCallbackBatch = (id: string, limit: number) =>
  inTransaction(
    Effect.gen(function* () {
      const bulk = yield* BulkJobs
      const batch = yield* bulk.callbacks.nextBatch(id, limit)
      if (Option.isNone(batch)) return Option.none<BatchReport>()
      const { action, requests } = batch.value
      let changed = 0
      for (const request of requests) {
        const moved = yield* applyOperatorChange(request.id, eventOf(action)).pipe(
          Effect.as(true),
          // no longer in a status the action applies to (or never verified, or its pair taken), or purged meanwhile
          Effect.catchTags({ Conflict: () => Effect.succeed(false), NotFound: () => Effect.succeed(false) })
        )
        if (moved) changed++
      }
      const finished = requests.length < limit
      yield* bulk.callbacks.advance(id, requests.at(-1), changed, finished)
      return Option.some<BatchReport>({ changed, finished })
    })
  )

export const BulkRunHandler = handle(BulkRun, ({ operationId }) =>
  asJobFailure(
    Effect.gen(function* () {
      const bulk = yield* BulkJobs
      const operation = yield* bulk.find(operationId)
      if (Option.isNone(operation) || operation.value.finishedAt !== undefined) return
      const batch = operation.value.target === "jobs" ? bulk.applyBatch(operationId, BATCH) : applyCallbackBatch(operationId, CALLBACK_BATCH)
      for (let i = 0; i < BATCHES_PER_RUN; i++) {
        const report = yield* batch
        if (Option.isNone(report) || report.value.finished) return
      }
      return yield* Snooze.for(0, "more batches to apply")
    })
  )
)
