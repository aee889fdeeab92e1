import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { expect } from "vitest"
import { defineJob, Priority } from "../../../domain/jobs/JobDefinition.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import type { ClaimedJob } from "../../../infra/jobs/JobRecords.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { cloneDatabase, storeLayer } from "../../support/database.ts"

const Echo = defineJob({ kind: "test.echo", queue: "store", args: Schema.Struct({ n: Schema.Number }), maxAttempts: 2 })

const TestLayer = Layer.unwrapEffect(Effect.map(Effect.promise(cloneDatabase), (url) => storeLayer(url)))

const reset = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`TRUNCATE jobs, processes`)

const registered = Effect.gen(function* () {
  const id = randomUUID()
  yield* (yield* ProcessRegistry).register({ id, role: "test", hostname: "here", pid: 1, queues: {} })
  return id
})

const makeStale = (processId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE processes SET heartbeat_at = now() - interval '1 hour' WHERE id = ${processId}::uuid`)

const stateOf = (id: string) =>
  Effect.flatMap(JobStore, (store) => store.get(id)).pipe(Effect.map(Option.getOrThrow))

const claimAll = (processId: string, limit = 100) =>
  Effect.flatMap(JobStore, (store) => store.claim("store", ["test.echo"], limit, processId, "30 seconds"))

const ref = (job: ClaimedJob) => ({ id: job.id, lease: job.lease })

layer(TestLayer, { timeout: 60_000, excludeTestServices: true })("JobStore", (it) => {
  it.effect("enqueue joins the caller's transaction: rollback leaves no job, commit exactly one", () =>
    Effect.gen(function* () {
      yield* reset
      const sql = yield* SqlClient.SqlClient
      const failed = yield* sql.withTransaction(Effect.zipRight(enqueue(Echo, { n: 1 }), Effect.fail("domain write failed" as const))).pipe(Effect.flip)
      expect(failed).toBe("domain write failed")
      expect(yield* sql`SELECT count(*)::int AS n FROM jobs`).toEqual([{ n: 0 }])
      yield* sql.withTransaction(Effect.zipRight(sql`SELECT 1`, enqueue(Echo, { n: 2 })))
      expect(yield* sql`SELECT count(*)::int AS n FROM jobs`).toEqual([{ n: 1 }])
    })
  )

  it.effect("50 concurrent enqueues with one unique key give one job", () =>
    Effect.gen(function* () {
      yield* reset
      const results = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (n) => enqueue(Echo, { n }, { uniqueKey: "only-once" }), {
        concurrency: "unbounded"
      })
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT count(*)::int AS n FROM jobs`).toEqual([{ n: 1 }])
      expect(new Set(results.map((r) => r.id)).size).toBe(1)
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
    })
  )

  it.effect("rejects arguments that do not match the schema, and writes nothing", () =>
    Effect.gen(function* () {
      yield* reset
      const error = yield* enqueue(Echo, { n: "one" } as unknown as { n: number }).pipe(Effect.flip)
      expect(error._tag).toBe("InvalidJob")
      const priority = yield* enqueue(Echo, { n: 1 }, { priority: 42 }).pipe(Effect.flip)
      expect(priority.message).toContain("priority")
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT count(*)::int AS n FROM jobs`).toEqual([{ n: 0 }])
    })
  )

  it.effect("claims in priority order, spends the attempt and issues a fresh lease per claim", () =>
    Effect.gen(function* () {
      yield* reset
      const me = yield* registered
      yield* enqueue(Echo, { n: 1 }, { priority: Priority.low })
      yield* enqueue(Echo, { n: 2 }, { priority: Priority.critical })
      yield* enqueue(Echo, { n: 3 }, { delay: "1 hour" })
      const claimed = yield* claimAll(me)
      expect(claimed.map((j) => (j.args as { n: number }).n)).toEqual([2, 1])
      expect(claimed.every((j) => j.attempt === 1)).toBe(true)
      expect(new Set(claimed.map((j) => j.lease)).size).toBe(2)
      expect(yield* claimAll(me)).toEqual([])
    })
  )

  it.effect("refuses claims from a process that is not registered", () =>
    Effect.gen(function* () {
      yield* reset
      yield* enqueue(Echo, { n: 1 })
      const error = yield* claimAll(randomUUID()).pipe(Effect.flip)
      expect(error.code).toBe("SBP01")
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT state FROM jobs`).toEqual([{ state: "available" }])
    })
  )

  it.effect("fences a paused worker: after a rescue its writes change 0 rows", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const zombie = yield* registered
      const { id } = yield* enqueue(Echo, { n: 1 })
      const [first] = yield* claimAll(zombie)
      if (first === undefined) throw new Error("nothing claimed")
      yield* makeStale(zombie)
      const report = yield* store.rescue("10 seconds")
      expect(report).toEqual({ pruned: [zombie], rescued: 1, discarded: 0 })
      const rescuer = yield* registered
      const [second] = yield* claimAll(rescuer)
      expect(second?.id).toBe(id)
      expect(second?.attempt).toBe(2)
      expect(second?.lease).not.toBe(first.lease)
      // the zombie wakes up and tries every write of its attempt
      expect(yield* store.complete([ref(first)])).toEqual([])
      expect(yield* store.finish([{ ...ref(first), outcome: { _tag: "Retry", delayMs: 0, error: { attempt: 1, at: "", kind: "retryable", message: "late" } } }])).toEqual([])
      expect(yield* store.finish([{ ...ref(first), outcome: { _tag: "HandBack" } }])).toEqual([])
      const during = yield* stateOf(id)
      expect(during.state).toBe("running")
      expect(during.lockedBy).toBe(rescuer)
      if (second === undefined) throw new Error("nothing claimed")
      expect(yield* store.complete([ref(second)])).toEqual([id])
      expect((yield* stateOf(id)).state).toBe("completed")
    })
  )

  it.effect("a rescue of a job out of attempts discards it (poison jobs end in the dead-letter set)", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const { id } = yield* enqueue(Echo, { n: 1 }) // maxAttempts 2
      for (let attempt = 1; attempt <= 2; attempt++) {
        const worker = yield* registered
        const [job] = yield* claimAll(worker)
        expect(job?.attempt).toBe(attempt)
        yield* makeStale(worker)
        yield* store.rescue("10 seconds")
      }
      const job = yield* stateOf(id)
      expect(job.state).toBe("discarded")
      expect(job.errors.map((e) => e.kind)).toEqual(["rescued", "rescued"])
      expect(job.finishedAt).not.toBeNull()
    })
  )

  it.effect("writes retry, snooze and discard outcomes; snooze and hand-back refund the attempt", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const me = yield* registered
      const ids = yield* Effect.forEach([1, 2, 3, 4], (n) => enqueue(Echo, { n }).pipe(Effect.map((r) => r.id)))
      const claimed = yield* claimAll(me)
      const error = { attempt: 1, at: new Date().toISOString(), kind: "retryable" as const, message: "boom" }
      const byN = (n: number) => claimed.find((j) => (j.args as { n: number }).n === n) as ClaimedJob
      const changed = yield* store.finish([
        { ...ref(byN(1)), outcome: { _tag: "Retry", delayMs: 60_000, error } },
        { ...ref(byN(2)), outcome: { _tag: "Snooze", delayMs: 60_000 } },
        { ...ref(byN(3)), outcome: { _tag: "Discard", error: { ...error, kind: "permanent" } } },
        { ...ref(byN(4)), outcome: { _tag: "HandBack" } }
      ])
      expect([...changed].sort()).toEqual([...ids].sort())
      const [retried, snoozed, discarded, handedBack] = yield* Effect.forEach(ids, stateOf)
      expect(retried).toMatchObject({ state: "retryable", attempt: 1, errors: [error] })
      expect(retried!.runAt.getTime()).toBeGreaterThan(Date.now() + 50_000)
      expect(snoozed).toMatchObject({ state: "scheduled", attempt: 0, errors: [] })
      expect(discarded).toMatchObject({ state: "discarded", attempt: 1 })
      expect(handedBack).toMatchObject({ state: "available", attempt: 0 })
    })
  )

  it.effect("promotes due scheduled and retryable jobs and says when the next is due", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const sql = yield* SqlClient.SqlClient
      const due = yield* enqueue(Echo, { n: 1 }, { delay: "1 hour" })
      yield* enqueue(Echo, { n: 2 }, { delay: "2 hours" })
      expect(due.state).toBe("scheduled")
      yield* sql`UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = ${due.id}::bigint`
      const result = yield* store.promoteDue(100)
      expect(result.promoted).toBe(1)
      expect(Option.getOrThrow(result.nextDueAt).getTime()).toBeGreaterThan(Date.now() + 3_600_000)
      expect((yield* stateOf(due.id)).state).toBe("available")
    })
  )

  it.effect("holds a concurrency key's limit and wakes a waiting job when a slot frees", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const me = yield* registered
      yield* Effect.forEach([1, 2, 3, 4, 5], (n) => enqueue(Echo, { n }, { concurrencyKey: "business-1", concurrencyLimit: 2 }))
      yield* enqueue(Echo, { n: 6 }, { concurrencyKey: "business-2", concurrencyLimit: 2 })
      const first = yield* claimAll(me)
      expect(first.map((j) => (j.args as { n: number }).n).sort()).toEqual([1, 2, 6])
      const sql = yield* SqlClient.SqlClient
      const waiting = yield* sql<{ n: number; attempt: number }>`
        SELECT (args->>'n')::int AS n, attempt FROM jobs WHERE state = 'scheduled' AND waiting_for_slot ORDER BY 1`
      expect(waiting).toEqual([
        { n: 3, attempt: 0 },
        { n: 4, attempt: 0 },
        { n: 5, attempt: 0 }
      ])
      expect(yield* claimAll(me)).toEqual([])
      const one = first.find((j) => (j.args as { n: number }).n === 1) as ClaimedJob
      yield* store.complete([ref(one)])
      const next = yield* claimAll(me)
      expect(next.map((j) => (j.args as { n: number }).n)).toEqual([3])
      expect(next[0]?.attempt).toBe(1)
    })
  )

  it.effect("a slot lease outlives its job: it counts against the key's limit until released, and its release wakes the next waiting job", () =>
    Effect.gen(function* () {
      yield* reset
      const sql = yield* SqlClient.SqlClient
      yield* sql`TRUNCATE job_slot_leases`
      const store = yield* JobStore
      const me = yield* registered
      const n = (jobs: ReadonlyArray<ClaimedJob>) => jobs.map((j) => (j.args as { n: number }).n).sort()
      yield* Effect.forEach([1, 2, 3, 4], (n) => enqueue(Echo, { n }, { concurrencyKey: "calls-1", concurrencyLimit: 2 }))
      const first = yield* claimAll(me)
      expect(n(first)).toEqual([1, 2])
      const [one, two] = first as [ClaimedJob, ClaimedJob]
      // job 1 hands its slot to a lease (written twice: once is what counts) and ends: the slot stays taken
      yield* store.holdSlot("calls-1", "call-a")
      yield* store.holdSlot("calls-1", "call-a")
      yield* store.complete([ref(one)])
      expect(yield* claimAll(me)).toEqual([])
      // job 2 ends without a lease: one slot frees, and job 3 is woken into it
      yield* store.complete([ref(two)])
      const third = yield* claimAll(me)
      expect(n(third)).toEqual([3])
      // a lease of another key changes nothing here
      yield* store.holdSlot("calls-2", "call-b")
      expect(yield* claimAll(me)).toEqual([])
      // the lease's release wakes job 4 at once (it is available, no promoter needed)
      expect(yield* store.releaseSlot("call-a")).toBe(true)
      expect(yield* store.releaseSlot("call-a")).toBe(false)
      const waiting = yield* sql<{ n: number; state: string }>`SELECT (args->>'n')::int AS n, state FROM jobs WHERE (args->>'n')::int = 4`
      expect(waiting).toEqual([{ n: 4, state: "available" }])
      expect(n(yield* claimAll(me))).toEqual([4])
    })
  )

  it.effect("cancels and revives jobs only from the states the table allows", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const me = yield* registered
      const { id } = yield* enqueue(Echo, { n: 1 })
      expect((yield* store.operate(id, "retry"))._tag).toBe("Illegal")
      const cancelled = yield* store.operate(id, "cancel")
      expect(cancelled._tag === "Done" && cancelled.job.state).toBe("cancelled")
      expect(yield* store.operate(id, "cancel")).toEqual({ _tag: "Illegal", state: "cancelled" })
      const revived = yield* store.operate(id, "retry")
      expect(revived._tag === "Done" && revived.job.state).toBe("available")
      const [job] = yield* claimAll(me)
      expect(yield* store.complete([ref(job as ClaimedJob)])).toEqual([id])
      expect(yield* store.operate(id, "cancel")).toEqual({ _tag: "Illegal", state: "completed" })
      expect(yield* store.operate("999999", "cancel")).toEqual({ _tag: "NotFound" })
      // a finished job can be deleted, a waiting one run now; not the other way round
      const later = (yield* enqueue(Echo, { n: 2 }, { delay: 3_600_000 })).id
      expect(yield* store.operate(later, "delete")).toEqual({ _tag: "Illegal", state: "scheduled" })
      const ran = yield* store.operate(later, "runNow")
      expect(ran._tag === "Done" && [ran.job.state, ran.job.attempt, ran.job.runAt.getTime() <= Date.now()]).toEqual(["available", 0, true])
      expect(yield* store.operate(id, "runNow")).toEqual({ _tag: "Illegal", state: "completed" })
      expect((yield* store.operate(id, "delete"))._tag).toBe("Done")
      expect(yield* store.get(id)).toEqual(Option.none())
      expect(yield* store.operate("not-a-number", "cancel")).toEqual({ _tag: "NotFound" })
    })
  )

  it.effect("prunes finished jobs past retention and keeps the rest", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const me = yield* registered
      yield* Effect.forEach([1, 2, 3], (n) => enqueue(Echo, { n }))
      const claimed = yield* claimAll(me)
      yield* store.complete(claimed.map(ref))
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE jobs SET finished_at = now() - interval '8 days' WHERE args->>'n' IN ('1', '2')`
      yield* enqueue(Echo, { n: 4 })
      expect(yield* store.prune("7 days", "30 days")).toBe(2)
      const left = yield* sql<{ n: string }>`SELECT args->>'n' AS n FROM jobs ORDER BY 1`
      expect(left).toEqual([{ n: "3" }, { n: "4" }])
    })
  )
})
