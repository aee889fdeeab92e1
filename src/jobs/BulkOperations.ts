/**
 * An operator's action on every job a filter matches ("retry all 500 dead
 * jobs of the dial queue"). `preview` counts what the filter matches now, for
 * the operator to confirm; `start` records the operation, bounded to the jobs
 * that exist then, together with the `admin.bulk` job that carries it out, in
 * one transaction. The job applies it in batches of `BATCH` jobs, each its own
 * short transaction (infra/jobs/BulkJobs.ts), and yields the runner after
 * `BATCHES_PER_RUN` of them (a snooze of no time, so other jobs get their
 * turn and a shutdown finds it between batches); every run resumes where the
 * last stopped.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { BulkAction, BulkJobFilter } from "../../domain/jobs/BulkOperation.ts"
import { Snooze } from "../../domain/jobs/JobErrors.ts"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { BulkJobs } from "../../infra/jobs/BulkJobs.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { asJobFailure } from "../callbacks/JobFailures.ts"
import { Conflict, NotFound } from "../Failures.ts"

export const BATCH = 500
export const BATCHES_PER_RUN = 20

export const BulkRun = defineJob({
  kind: "admin.bulk",
  args: Schema.Struct({ operationId: Schema.UUID }),
  maxAttempts: 25,
  timeout: "2 minutes"
})

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
      if (expected !== undefined && expected !== matched) {
        return yield* new Conflict({ detail: `the filter matches ${matched} jobs now, not the ${expected} confirmed: look again and confirm the new count`, extra: { matched } })
      }
      const operation = yield* bulk.create({ id: randomUUID(), action, filter, upTo, matched, by })
      yield* enqueue(BulkRun, { operationId: operation.id }).pipe(Effect.orDie) // its arguments are always valid
      return operation
    })
  )

export const find = (id: string) =>
  Effect.flatMap(BulkJobs, (bulk) => bulk.find(id)).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotFound({ detail: `no bulk operation ${id}` })), onSome: Effect.succeed })))

export const BulkRunHandler = handle(BulkRun, ({ operationId }) =>
  asJobFailure(
    Effect.gen(function* () {
      const bulk = yield* BulkJobs
      for (let i = 0; i < BATCHES_PER_RUN; i++) {
        const report = yield* bulk.applyBatch(operationId, BATCH)
        if (Option.isNone(report) || report.value.finished) return
      }
      return yield* Snooze.for(0, "more batches to apply")
    })
  )
)
