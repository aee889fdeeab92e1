/**
 * Bulk operations against real Postgres. The property: for any jobs and any
 * filter and action, applying the operation batch by batch (batches of a few
 * jobs, so every run crosses batch boundaries) changes exactly the jobs the
 * jobs list shows for the same filter and whose state the action applies to,
 * each as the single-job action would, and leaves every other job as it was;
 * jobs enqueued after the operation was asked for are not swept up, and a
 * batch applied again changes nothing. Ids start just below a new digit, so
 * batches cross from 99 to 100 as they would from 9,999 to 10,000.
 */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import fc from "fast-check"
import { randomUUID } from "node:crypto"
import { expect } from "vitest"
import { type BulkAction, type BulkJobFilter, statesFor } from "../../../domain/jobs/BulkOperation.ts"
import { JobStates, type JobState } from "../../../domain/jobs/JobState.ts"
import { BulkJobs } from "../../../infra/jobs/BulkJobs.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { cloneDatabase, storeLayer } from "../../support/database.ts"

const TestLayer = Layer.unwrapEffect(Effect.map(Effect.promise(cloneDatabase), (url) => BulkJobs.Default.pipe(Layer.provideMerge(storeLayer(url)))))

const QUEUES = ["q1", "q2"] as const
const KINDS = ["k.a", "k.b", "k_c"] as const
const WORDS = ["alpha", "Beta", "50%", "a_b", "gamma"] as const

const jobArb = fc.record({
  state: fc.constantFrom(...JobStates),
  queue: fc.constantFrom(...QUEUES),
  kind: fc.constantFrom(...KINDS),
  word: fc.constantFrom(...WORDS)
})

/** Each field given one time in three: broad filters as often as narrow ones. */
const sometimes = <A,>(arb: fc.Arbitrary<A>) => fc.option(arb, { freq: 2, nil: undefined })
const filterArb: fc.Arbitrary<BulkJobFilter> = fc
  .record({
    state: sometimes(fc.constantFrom(...JobStates)),
    queue: sometimes(fc.constantFrom(...QUEUES)),
    kind: sometimes(fc.constantFrom(...KINDS)),
    q: sometimes(fc.constantFrom("NOTE", "alpha", "beta", "%", "_", "a_b", "zeta"))
  })
  .map((filter) => Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined)) as BulkJobFilter)

interface Row {
  readonly id: string
  readonly state: JobState
  readonly run_at: Date
  readonly attempt: number
  readonly max_attempts: number
}

const snapshot = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<Row>`SELECT id::text, state, run_at, attempt, max_attempts FROM jobs ORDER BY id`)

/** Every job the jobs list shows for the filter, page by page, as the console and the admin API list them. */
const listed = (filter: BulkJobFilter) =>
  Effect.gen(function* () {
    const store = yield* JobStore
    const ids: Array<string> = []
    let before: string | undefined
    for (;;) {
      const page = yield* store.list({ state: filter.state, queue: filter.queue, kind: filter.kind, search: filter.q, before, limit: 7 })
      ids.push(...page.map((j) => j.id))
      if (page.length < 7) return ids
      before = page.at(-1)?.id
    }
  })

layer(TestLayer, { timeout: 120_000 })("bulk operations on jobs", (it) => {
  it.effect("change exactly what the same filter lists, in the states the action applies to, and nothing else", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const bulk = yield* BulkJobs
      const context = yield* Effect.context<SqlClient.SqlClient | BulkJobs | JobStore>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(jobArb, { minLength: 0, maxLength: 60, size: "medium" }), filterArb, fc.constantFrom<BulkAction>("retry", "cancel", "delete"), fc.integer({ min: 1, max: 6 }), fc.constantFrom(1, 7, 95, 995), (jobs, filter, action, batch, firstId) =>
            Effect.runPromise(
              Effect.gen(function* () {
                // ids that cross a digit (9 -> 10, 99 -> 100): batches must walk them as numbers, not as text
                yield* sql`TRUNCATE jobs, bulk_operations`
                yield* sql`SELECT setval(pg_get_serial_sequence('jobs', 'id'), ${firstId}, false)`
                for (const job of jobs) {
                  yield* sql`
                    INSERT INTO jobs (queue, kind, args, state, run_at, attempt, max_attempts, finished_at, lease)
                    VALUES (${job.queue}, ${job.kind}, ${JSON.stringify({ note: `${job.word} note` })}::jsonb, ${job.state}::job_state, now() + interval '1 hour',
                            ${job.state === "scheduled" || job.state === "available" ? 0 : 1}, 1,
                            CASE WHEN ${job.state} IN ('completed', 'discarded', 'cancelled') THEN now() END,
                            CASE WHEN ${job.state} = 'running' THEN 1 END)`
                }
                const shown = new Set(yield* listed(filter))
                const before = yield* snapshot
                const expected = new Set(before.filter((r) => shown.has(r.id) && statesFor(action).includes(r.state)).map((r) => r.id))

                const counted = yield* bulk.count(filter, action)
                expect(counted.matched).toBe(shown.size)
                expect(counted.applicable).toBe(expected.size)
                const op = yield* bulk.create({ id: randomUUID(), action, filter, upTo: counted.upTo, matched: counted.matched, by: "test" })
                // a job enqueued after the operation was asked for: outside its bound, whatever it matches
                yield* sql`INSERT INTO jobs (queue, kind, args, state, run_at) VALUES ('q1', 'k.a', '{"note":"alpha note"}'::jsonb, 'discarded', now())`
                let changed = 0
                for (;;) {
                  const report = yield* bulk.applyBatch(op.id, batch)
                  if (Option.isNone(report)) break
                  changed += report.value.changed
                  if (report.value.finished) break
                }
                expect(yield* bulk.applyBatch(op.id, batch)).toEqual(Option.none()) // finished: nothing more
                expect(changed).toBe(expected.size)

                const after = new Map((yield* snapshot).map((r) => [r.id, r]))
                for (const row of before) {
                  const now = after.get(row.id)
                  if (!expected.has(row.id)) {
                    expect(now, `job ${row.id} (${row.state}) is not the filter's`).toEqual(row)
                    continue
                  }
                  if (action === "delete") expect(now, `job ${row.id} deleted`).toBeUndefined()
                  else if (action === "cancel") expect(now?.state).toBe("cancelled")
                  else {
                    expect(now?.state).toBe("available")
                    expect(now?.max_attempts).toBeGreaterThan(now?.attempt ?? 0) // a dead job gets one more attempt
                  }
                }
                expect([...after.values()].filter((r) => !before.some((b) => b.id === r.id)).map((r) => r.state)).toEqual(["discarded"]) // the late one, untouched
                const stored = yield* bulk.find(op.id)
                expect(Option.map(stored, (o) => [o.changed, o.matched, o.finishedAt !== undefined])).toEqual(Option.some([expected.size, shown.size, true]))
              }).pipe(Effect.provide(context))
            )
          ),
          { numRuns: 100 }
        )
      )
    })
  )
})
