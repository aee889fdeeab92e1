/**
 * Rate keys against real Postgres (migrations/0021_rate_keys.sql): claims start at most `count` jobs of
 * a key in any window of `per`, across claimers, a job holds its key until `per` after it ends, the jobs
 * that wait spend no attempt and come back at their turns, keys are independent, and rate keys hold
 * together with concurrency keys. Windows are checked on the database's own start times
 * (`attempted_at`), to the microsecond.
 */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { expect } from "vitest"
import { defineJob } from "../../../domain/jobs/JobDefinition.ts"
import { enqueue, enqueueMany } from "../../../infra/jobs/Jobs.ts"
import type { ClaimedJob } from "../../../infra/jobs/JobRecords.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { cloneDatabase, storeLayer } from "../../support/database.ts"

const QUEUE = "paced"
const Text = defineJob({ kind: "test.text", queue: QUEUE, args: Schema.Struct({ n: Schema.Number }), maxAttempts: 3 })
const Paced = defineJob({ kind: "test.paced", queue: QUEUE, args: Schema.Struct({ n: Schema.Number }), rateLimit: { count: 2, per: "1 second" } })
const KINDS = [Text.kind, Paced.kind]

const TestLayer = Layer.unwrapEffect(Effect.map(Effect.promise(cloneDatabase), (url) => storeLayer(url, 8)))

const reset = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`TRUNCATE jobs, processes, job_rate_ends`)

const registered = Effect.gen(function* () {
  const id = randomUUID()
  yield* (yield* ProcessRegistry).register({ id, role: "test", hostname: "here", pid: 1, queues: {} })
  return id
})

const ref = (job: ClaimedJob) => ({ id: job.id, lease: job.lease })

/**
 * A worker that does nothing but the engine's part, until every job of the queue is completed: promotes
 * due jobs (as every process's promoter does), claims up to `limit`, holds what it claimed for `holdMs`
 * (a job that runs that long), completes it, and looks again `pauseMs` (10) later.
 */
const work = (processId: string, options: { readonly limit?: number; readonly holdMs?: number; readonly pauseMs?: number } = {}) =>
  Effect.gen(function* () {
    const store = yield* JobStore
    const sql = yield* SqlClient.SqlClient
    for (;;) {
      yield* store.promoteDue(1_000)
      const claimed = yield* store.claim(QUEUE, KINDS, options.limit ?? 100, processId, "30 seconds")
      if (claimed.length > 0) {
        if (options.holdMs !== undefined) yield* Effect.sleep(Duration.millis(options.holdMs))
        yield* store.complete(claimed.map(ref))
      }
      const [left] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM jobs WHERE queue = ${QUEUE} AND state <> 'completed'`
      if (left?.n === 0) return
      yield* Effect.sleep(Duration.millis(options.pauseMs ?? 10))
    }
  }).pipe(Effect.timeoutFail({ duration: Duration.seconds(40), onTimeout: () => new Error("the jobs were not all completed within 40 s") }))

/** Pairs of starts of one key that are `count` starts apart yet less than `per` apart: a window that held more than `count`. */
const crowdedWindows = (count: number, per: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ rate_key: string; at: Date; later: Date }>`
      SELECT rate_key, at, later FROM (
        SELECT rate_key, attempted_at AS at, lead(attempted_at, ${count}) OVER (PARTITION BY rate_key ORDER BY attempted_at) AS later
          FROM jobs WHERE rate_key IS NOT NULL) s
       WHERE later IS NOT NULL AND later - at < ${per}::interval`
  )

/** Every job done on its first attempt with no error: waiting for the rate spent nothing. */
const firstAttempts = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ state: string; attempt: number; errors: number; n: number }>`
    SELECT state::text, attempt, jsonb_array_length(errors) AS errors, count(*)::int AS n FROM jobs GROUP BY 1, 2, 3`
)

layer(TestLayer, { timeout: 60_000, excludeTestServices: true })("rate keys", (it) => {
  it.effect("20 jobs at 5 per second on one key: no window of a second holds more than 5 starts, and waiting spends no attempt", () =>
    Effect.gen(function* () {
      yield* reset
      const me = yield* registered
      const inserted = yield* enqueueMany(
        Text,
        Array.from({ length: 20 }, (_, n) => ({ args: { n }, options: { rateKey: "sender:+14155550100", rateLimit: { count: 5, per: "1 second" } } }))
      )
      expect(inserted).toBe(20)
      // the first claim starts the 5 the window allows and sets the other 15 aside, each at its turn
      const first = yield* (yield* JobStore).claim(QUEUE, KINDS, 100, me, "30 seconds")
      expect(first.map((j) => (j.args as { n: number }).n)).toEqual([0, 1, 2, 3, 4])
      const sql = yield* SqlClient.SqlClient
      const waiting = yield* sql<{ n: number; attempt: number; after_ms: number }>`
        SELECT (args->>'n')::int AS n, attempt,
               round(extract(epoch FROM run_at - (SELECT min(attempted_at) FROM jobs)) * 1000)::int AS after_ms
          FROM jobs WHERE state = 'scheduled' AND waiting_for_rate ORDER BY run_at, id`
      expect(waiting.map((w) => w.n)).toEqual(Array.from({ length: 15 }, (_, i) => i + 5))
      expect(waiting.every((w) => w.attempt === 0)).toBe(true)
      // the first turn is when the window has room again; the rest follow a fifth of a second apart
      expect(waiting.map((w) => w.after_ms)).toEqual(Array.from({ length: 15 }, (_, i) => 1_000 + 200 * i))
      yield* (yield* JobStore).complete(first.map(ref))

      yield* work(me)
      expect(yield* crowdedWindows(5, "1 second")).toEqual([])
      expect(yield* firstAttempts).toEqual([{ state: "completed", attempt: 1, errors: 0, n: 20 }])
    })
  )

  it.effect("claimers in parallel (four processes) together keep the rate", () =>
    Effect.gen(function* () {
      yield* reset
      const processes = yield* Effect.all([registered, registered, registered, registered])
      yield* enqueueMany(
        Text,
        Array.from({ length: 24 }, (_, n) => ({ args: { n }, options: { rateKey: "sender:+14155550101", rateLimit: { count: 2, per: "500 millis" } } }))
      )
      // one job per claim and no pause between claims: the claimers hold different jobs of the key at
      // the same moment, and only the key's lock keeps them from all starting theirs
      yield* Effect.all(processes.map((id) => work(id, { limit: 1, pauseMs: 0 })), { concurrency: "unbounded" })
      expect(yield* crowdedWindows(2, "500 milliseconds")).toEqual([])
      expect(yield* firstAttempts).toEqual([{ state: "completed", attempt: 1, errors: 0, n: 24 }])
    })
  )

  it.effect("claims racing for a key's last room: exactly one of them wins it, round after round", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* JobStore
      const sql = yield* SqlClient.SqlClient
      const processes = yield* Effect.all([registered, registered, registered, registered])
      // every claimer on a connection of its own, opened beforehand, so that the claims meet in the database
      yield* Effect.all(Array.from({ length: 4 }, () => sql`SELECT pg_sleep(0.05)`), { concurrency: "unbounded" })
      const winners: Array<number> = []
      for (let round = 0; round < 20; round++) {
        yield* Effect.forEach([1, 2, 3, 4], (n) => enqueue(Text, { n }, { rateKey: `race:${round}`, rateLimit: { count: 1, per: "1 hour" } }))
        const claims = yield* Effect.all(
          processes.map((id) => store.claim(QUEUE, KINDS, 1, id, "30 seconds")),
          { concurrency: "unbounded" }
        )
        winners.push(claims.flat().length)
      }
      expect(winners).toEqual(Array.from({ length: 20 }, () => 1))
    })
  )

  it.effect("a job holds its key from its start until the window after it ends: what it does while it runs is paced too", () =>
    Effect.gen(function* () {
      yield* reset
      const me = yield* registered
      const store = yield* JobStore
      const sql = yield* SqlClient.SqlClient
      const rate = { rateKey: "sender:slow", rateLimit: { count: 1, per: "300 millis" } } as const
      const [first, second] = yield* Effect.forEach([1, 2], (n) => enqueue(Text, { n }, rate))
      const [running] = yield* store.claim(QUEUE, KINDS, 100, me, "30 seconds")
      expect(running?.id).toBe(first?.id)
      // the first runs for 600 ms: twice the window after its start, and still it holds the key
      yield* Effect.sleep(Duration.millis(600))
      yield* store.promoteDue(1_000)
      expect(yield* store.claim(QUEUE, KINDS, 100, me, "30 seconds")).toEqual([])
      yield* store.complete([ref(running as ClaimedJob)])
      yield* work(me)
      const [gap] = yield* sql<{ after_end_ms: number }>`
        SELECT (extract(epoch FROM b.attempted_at - a.finished_at) * 1000)::float8 AS after_end_ms
          FROM jobs a, jobs b WHERE a.id = ${first?.id ?? ""}::bigint AND b.id = ${second?.id ?? ""}::bigint`
      expect(gap?.after_end_ms).toBeGreaterThanOrEqual(300)
      expect(yield* firstAttempts).toEqual([{ state: "completed", attempt: 1, errors: 0, n: 2 }])
    })
  )

  it.effect("keys are independent: a full key holds back only its own jobs", () =>
    Effect.gen(function* () {
      yield* reset
      const me = yield* registered
      const store = yield* JobStore
      for (const n of [1, 2, 3]) yield* enqueue(Text, { n }, { rateKey: "sender:a", rateLimit: { count: 1, per: "1 hour" } })
      for (const n of [4, 5, 6]) yield* enqueue(Text, { n }, { rateKey: "sender:b", rateLimit: { count: 1, per: "1 hour" } })
      yield* enqueue(Text, { n: 7 })
      const claimed = yield* store.claim(QUEUE, KINDS, 100, me, "30 seconds")
      expect(claimed.map((j) => (j.args as { n: number }).n).sort()).toEqual([1, 4, 7])
      // the others wait an hour for their key (two hours for the second in line), attempts unspent
      const sql = yield* SqlClient.SqlClient
      const waiting = yield* sql<{ n: number; attempt: number; hours: number }>`
        SELECT (args->>'n')::int AS n, attempt, round(extract(epoch FROM run_at - now()) / 3600)::int AS hours
          FROM jobs WHERE state = 'scheduled' AND waiting_for_rate ORDER BY 1`
      expect(waiting).toEqual([
        { n: 2, attempt: 0, hours: 1 },
        { n: 3, attempt: 0, hours: 2 },
        { n: 5, attempt: 0, hours: 1 },
        { n: 6, attempt: 0, hours: 2 }
      ])
      // a job of a third key starts at once; one more of a full key joins the end of its line
      yield* enqueue(Text, { n: 8 }, { rateKey: "sender:c", rateLimit: { count: 1, per: "1 hour" } })
      yield* enqueue(Text, { n: 9 }, { rateKey: "sender:a", rateLimit: { count: 1, per: "1 hour" } })
      expect((yield* store.claim(QUEUE, KINDS, 100, me, "30 seconds")).map((j) => (j.args as { n: number }).n)).toEqual([8])
      const [ninth] = yield* sql<{ hours: number }>`
        SELECT round(extract(epoch FROM run_at - now()) / 3600)::int AS hours FROM jobs WHERE (args->>'n')::int = 9 AND waiting_for_rate`
      expect(ninth?.hours).toBe(3)
      // an operator's run-now makes a waiting job available, but its key still decides when it starts
      const [second] = yield* sql<{ id: string }>`SELECT id::text FROM jobs WHERE (args->>'n')::int = 2`
      expect((yield* store.operate(second?.id ?? "", "runNow"))._tag).toBe("Done")
      expect(yield* store.claim(QUEUE, KINDS, 100, me, "30 seconds")).toEqual([])
      expect((yield* firstAttempts).filter((row) => row.state !== "running")).toEqual([{ state: "scheduled", attempt: 0, errors: 0, n: 5 }])
    })
  )

  it.effect("a job with a rate key and a concurrency key keeps both, with two claimers", () =>
    Effect.gen(function* () {
      yield* reset
      const [a, b] = [yield* registered, yield* registered]
      // two concurrency keys (1 at a time each) crossed with two rate keys (3 per second each)
      yield* Effect.forEach(Array.from({ length: 16 }, (_, n) => n), (n) =>
        enqueue(Text, { n }, {
          concurrencyKey: `business:${n % 2}`,
          concurrencyLimit: 1,
          rateKey: `sender:${Math.floor(n / 2) % 2}`,
          rateLimit: { count: 3, per: "1 second" }
        })
      )
      // each job runs for 100 ms: the concurrency keys hold starts apart, the rate keys hold back bursts
      yield* Effect.all([work(a, { holdMs: 100 }), work(b, { holdMs: 100 })], { concurrency: 2 })
      expect(yield* crowdedWindows(3, "1 second")).toEqual([])
      const sql = yield* SqlClient.SqlClient
      const overlapping = yield* sql<{ key: string }>`
        SELECT x.concurrency_key AS key FROM jobs x JOIN jobs y
            ON x.concurrency_key = y.concurrency_key AND x.id < y.id
           AND x.attempted_at < y.finished_at AND y.attempted_at < x.finished_at`
      expect(overlapping).toEqual([])
      expect(yield* firstAttempts).toEqual([{ state: "completed", attempt: 1, errors: 0, n: 16 }])
    })
  )

  it.effect("a kind's default rate applies to a rate key given alone; options that cannot work are refused", () =>
    Effect.gen(function* () {
      yield* reset
      const sql = yield* SqlClient.SqlClient
      yield* enqueue(Paced, { n: 1 }, { rateKey: "sender:d" })
      expect(yield* sql`SELECT rate_key, rate_count, extract(epoch FROM rate_per)::int AS per FROM jobs`).toEqual([{ rate_key: "sender:d", rate_count: 2, per: 1 }])
      const refusals = yield* Effect.forEach(
        [
          { rateKey: "sender:e" }, // Text has no default rate
          { rateLimit: { count: 1, per: "1 second" } }, // a rate of no key
          { rateKey: "sender:e", rateLimit: { count: 0, per: "1 second" } },
          { rateKey: "sender:e", rateLimit: { count: 1.5, per: "1 second" } },
          { rateKey: "sender:e", rateLimit: { count: 1, per: "0 millis" } },
          { rateKey: "sender:e", rateLimit: { count: 1, per: "2 days" } },
          { rateKey: "", rateLimit: { count: 1, per: "1 second" } }
        ] as const,
        (options) => Effect.flip(enqueue(Text, { n: 2 }, options))
      )
      expect(refusals.map((e) => [e._tag, e._tag === "InvalidJob" ? e.path : e.message])).toEqual([
        ["InvalidJob", "rateLimit"],
        ["InvalidJob", "rateKey"],
        ["InvalidJob", "rateLimit"],
        ["InvalidJob", "rateLimit"],
        ["InvalidJob", "rateLimit"],
        ["InvalidJob", "rateLimit"],
        ["InvalidJob", "rateKey"]
      ])
      expect(yield* sql`SELECT count(*)::int AS n FROM jobs`).toEqual([{ n: 1 }])
      expect(() => defineJob({ kind: "test.bad_rate", args: Schema.Struct({}), rateLimit: { count: 1, per: "0 millis" } })).toThrow(/rateLimit.per/)
    })
  )
})
