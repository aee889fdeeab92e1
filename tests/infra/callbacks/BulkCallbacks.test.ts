/**
 * Bulk operations on callback requests against real Postgres. The property:
 * for any requests and any filter of the callbacks list and any action,
 * starting the operation and applying it batch by batch (batches of a few
 * requests, some of them interrupted and rolled back) changes exactly the
 * requests the callbacks list shows for the same filter and that the single
 * operator action would change, walking them oldest first: a status the
 * action applies to, and for a retry a verified phone and no other active
 * request of the visitor's at that moment. Each changed request moves as the
 * single action moves it (its status, its history event, a retry's new
 * generation and dial job); every other request is left exactly as it was,
 * including one created after the operation was asked for. Creation times
 * tie to the minute and differ in microseconds, so the walk's cursor must keep
 * what a JavaScript Date cannot hold.
 */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import fc from "fast-check"
import { randomUUID } from "node:crypto"
import { expect } from "vitest"
import { type BulkCallbackFilter, type CallbackBulkAction, eventOf, statusesFor } from "../../../domain/callbacks/BulkCallbacks.ts"
import { CallbackStatuses, type CallbackStatus, isActive } from "../../../domain/callbacks/CallbackState.ts"
import { MoveTypes } from "../../../domain/callbacks/History.ts"
import { BusinessStore } from "../../../infra/callbacks/BusinessStore.ts"
import { CallbackTablesLive } from "../../../infra/callbacks/CallbackTables.ts"
import { RequestStore } from "../../../infra/callbacks/RequestStore.ts"
import { inTransaction, Transaction } from "../../../infra/db/Transaction.ts"
import { BulkJobs } from "../../../infra/jobs/BulkJobs.ts"
import * as Bulk from "../../../src/jobs/BulkOperations.ts"
import { businessInput } from "../../support/callbackStores.ts"
import { cloneDatabase, storeLayer } from "../../support/database.ts"

const TestLayer = Layer.unwrapEffect(
  Effect.map(Effect.promise(cloneDatabase), (url) => Layer.mergeAll(BulkJobs.Default, CallbackTablesLive, Transaction.Default).pipe(Layer.provideMerge(storeLayer(url))))
)

const PHONES = ["+14155550001", "+14155550002", "+14155550003"] as const
const WORDS = ["alpha", "Beta", "50%", "a_b", "gamma"] as const
/** Creation: 2025-01-01 plus whole minutes plus a few microseconds. */
const BASE = Date.UTC(2025, 0, 1)
const MICROS = [0, 1, 999] as const

const requestArb = fc.record({
  business: fc.integer({ min: 0, max: 1 }),
  // one of the shared numbers, or the visitor's own (2 * PHONES.length: half the time)
  phone: fc.integer({ min: 0, max: 2 * PHONES.length - 1 }),
  // the statuses the actions apply to, more often than the others
  status: fc.oneof(fc.constantFrom<CallbackStatus>("failed", "cancelled", "queued", "pending_verification"), fc.constantFrom(...CallbackStatuses)),
  verified: fc.constantFrom("yes", "yes", "no", "none"),
  word: fc.constantFrom(...WORDS),
  minute: fc.integer({ min: 0, max: 5 }),
  micro: fc.constantFrom(...MICROS)
})
type Generated = typeof requestArb extends fc.Arbitrary<infer A> ? A : never

/** Each field given one time in four: broad filters as often as narrow ones. */
const sometimes = <A,>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 })
const filterArb = fc.record({
  status: sometimes(fc.constantFrom<CallbackStatus>("failed", "cancelled", "queued", "dialing")),
  business: sometimes(fc.integer({ min: 0, max: 1 })),
  phone: sometimes(fc.constantFrom(...PHONES)),
  from: sometimes(fc.integer({ min: 0, max: 6 })),
  before: sometimes(fc.integer({ min: 0, max: 6 })),
  q: sometimes(fc.constantFrom("NOTE", "alpha", "beta", "%", "_", "a_b", "zeta")),
  ids: sometimes(fc.array(fc.nat(60), { minLength: 1, maxLength: 8 }))
})

interface Row {
  readonly id: string
  readonly status: CallbackStatus
  readonly generation: number
  readonly event_seq: number
  readonly updated_at: Date
}

const snapshot = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<Row>`SELECT id::text, status, generation, event_seq, updated_at FROM callback_requests ORDER BY id`)

/** Every request the callbacks list shows for the filter, page by page (and of those, the selected ones), as the console and the admin API list them. */
const listed = (filter: BulkCallbackFilter) =>
  Effect.gen(function* () {
    const store = yield* RequestStore
    const ids: Array<string> = []
    let before: { createdMicros: string; id: string } | undefined
    for (;;) {
      const page = yield* store.list({ ...filter, before, limit: 7 })
      ids.push(...page.map((r) => r.request.id))
      const last = page.at(-1)
      if (page.length < 7 || last === undefined) return filter.ids === undefined ? ids : ids.filter((id) => filter.ids?.includes(id))
      const [createdMicros = "", id = ""] = last.cursor.split(".")
      before = { createdMicros, id }
    }
  })

layer(TestLayer, { timeout: 180_000 })("bulk operations on callback requests", (it) => {
  it.effect("change exactly what the same filter lists, as the single operator action would, and nothing else", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const businesses = yield* Effect.forEach([0, 1], (i) => Effect.flatMap(BusinessStore, (store) => store.create(randomUUID(), businessInput({ name: `Business ${i}` }))))
      const context = yield* Effect.context<SqlClient.SqlClient | BulkJobs | RequestStore | Transaction | Effect.Effect.Context<ReturnType<typeof Bulk.applyCallbackBatch>>>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(requestArb, { minLength: 0, maxLength: 40, size: "medium" }),
            filterArb,
            fc.constantFrom<CallbackBulkAction>("retry", "cancel"),
            fc.integer({ min: 1, max: 6 }),
            fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
            (generated, drawn, action, batch, interruptAt) =>
              Effect.runPromise(
                Effect.gen(function* () {
                  yield* sql`TRUNCATE callback_requests, bulk_operations, jobs CASCADE`
                  // the requests, one active per (business, phone) as the unique index wants: a second active one gets a number of its own
                  const active = new Set<string>()
                  const rows = generated.map((g: Generated, i) => {
                    const business = businesses[g.business]?.id ?? ""
                    const own = `+1415555${String(9000 + i)}`
                    const shared = PHONES[g.phone] ?? own
                    const phone = isActive(g.status) && active.has(`${business} ${shared}`) ? own : shared
                    if (isActive(g.status)) active.add(`${business} ${phone}`)
                    return { ...g, id: randomUUID(), businessId: business, phone, created: BASE + g.minute * 60_000, key: `${String(g.minute).padStart(2, "0")}:${String(g.micro).padStart(3, "0")}` }
                  })
                  for (const r of rows) {
                    yield* sql`
                      INSERT INTO callback_requests (id, business_id, phone, name, note, status, created_at, finished_at)
                      VALUES (${r.id}::uuid, ${r.businessId}::uuid, ${r.phone}, ${`${r.word} name`}, ${r.word === "gamma" ? null : "a note"}, ${r.status},
                              ${new Date(r.created).toISOString()}::timestamptz + ${r.micro} * interval '1 microsecond',
                              CASE WHEN ${isActive(r.status)} THEN NULL ELSE now() END)`
                    if (r.verified !== "none") {
                      yield* sql`INSERT INTO verifications (callback_id, used_at) VALUES (${r.id}::uuid, CASE WHEN ${r.verified === "yes"} THEN now() END)`
                    }
                  }
                  const filter: BulkCallbackFilter = Object.fromEntries(
                    Object.entries({
                      status: drawn.status,
                      businessId: drawn.business === undefined ? undefined : businesses[drawn.business]?.id,
                      phone: drawn.phone,
                      createdFrom: drawn.from === undefined ? undefined : new Date(BASE + drawn.from * 60_000),
                      createdBefore: drawn.before === undefined ? undefined : new Date(BASE + drawn.before * 60_000),
                      q: drawn.q,
                      ids: drawn.ids?.map((i) => rows[i % Math.max(rows.length, 1)]?.id ?? randomUUID())
                    }).filter(([, value]) => value !== undefined)
                  )

                  // what the single actions would do to the listed requests, oldest first
                  const shown = new Set(yield* listed(filter))
                  const applies = statusesFor(action)
                  const expected = new Set<string>()
                  const taken = new Set(rows.filter((r) => isActive(r.status)).map((r) => `${r.businessId} ${r.phone}`))
                  for (const r of [...rows].sort((a, b) => (a.key === b.key ? (a.id < b.id ? -1 : 1) : a.key < b.key ? -1 : 1))) {
                    if (!shown.has(r.id) || !applies.includes(r.status)) continue
                    if (action === "cancel") expected.add(r.id)
                    else if (r.verified === "yes" && !taken.has(`${r.businessId} ${r.phone}`)) {
                      expected.add(r.id)
                      taken.add(`${r.businessId} ${r.phone}`)
                    }
                  }
                  const before = yield* snapshot

                  const counted = yield* Bulk.previewCallbacks(filter, action)
                  expect(counted).toEqual({ matched: shown.size, applicable: rows.filter((r) => shown.has(r.id) && applies.includes(r.status)).length })
                  // a count that is no longer the one confirmed: refused, nothing recorded
                  const refused = yield* Effect.flip(Bulk.startCallbacks(action, filter, "test", shown.size + 1))
                  expect(refused._tag).toBe("Conflict")
                  expect((yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM bulk_operations`)[0]?.n).toBe(0)
                  const op = yield* Bulk.startCallbacks(action, filter, "test", shown.size)
                  // a request created after the operation was asked for: outside its bound, whatever it matches
                  const late = { id: randomUUID(), businessId: filter.businessId ?? businesses[0]?.id ?? "", status: action === "retry" ? "failed" : "queued" }
                  const latePhone = filter.phone !== undefined && !taken.has(`${late.businessId} ${filter.phone}`) ? filter.phone : "+14155559999"
                  yield* sql`
                    INSERT INTO callback_requests (id, business_id, phone, name, note, status, finished_at)
                    VALUES (${late.id}::uuid, ${late.businessId}::uuid, ${latePhone}, 'alpha name', 'a note', ${late.status},
                            CASE WHEN ${late.status === "failed"} THEN now() END)`
                  yield* sql`INSERT INTO verifications (callback_id, used_at) VALUES (${late.id}::uuid, now())`

                  expect(yield* (yield* BulkJobs).applyBatch(op.id, batch)).toEqual(Option.none()) // not a jobs operation: the jobs' batches leave it alone
                  let changed = 0
                  for (let n = 0; ; n++) {
                    if (n === interruptAt) {
                      // a batch cut short: its transaction rolls back, and the next batch does it again
                      yield* inTransaction(Effect.zipRight(Bulk.applyCallbackBatch(op.id, batch), Effect.fail("interrupted" as const))).pipe(Effect.ignore)
                    }
                    const report = yield* Bulk.applyCallbackBatch(op.id, batch)
                    if (Option.isNone(report)) break
                    changed += report.value.changed
                    if (report.value.finished) break
                  }
                  expect(yield* Bulk.applyCallbackBatch(op.id, batch)).toEqual(Option.none()) // finished: nothing more
                  expect(changed).toBe(expected.size)

                  const after = new Map((yield* snapshot).map((r) => [r.id, r]))
                  const events = new Map(
                    (yield* sql<{ id: string; types: Array<string> }>`SELECT callback_id::text AS id, array_agg(type ORDER BY seq) AS types FROM callback_events GROUP BY callback_id`).map((r) => [r.id, r.types])
                  )
                  const dials = yield* sql<{ id: string; generation: number }>`SELECT args->>'callbackId' AS id, (args->>'generation')::int AS generation FROM jobs WHERE kind = 'callback.dial'`
                  for (const row of before) {
                    const now = after.get(row.id)
                    if (!expected.has(row.id)) {
                      expect(now, `request ${row.id} (${row.status}) is left as it was`).toEqual(row)
                      expect(events.get(row.id)).toBeUndefined()
                      continue
                    }
                    expect(events.get(row.id), `request ${row.id}: one history event`).toEqual([MoveTypes[eventOf(action)]])
                    expect(now?.event_seq).toBe(row.event_seq + 1)
                    if (action === "cancel") expect(now?.status).toBe("cancelled")
                    else {
                      expect(now).toMatchObject({ status: "queued", generation: row.generation + 1 })
                      expect(dials.filter((d) => d.id === row.id)).toEqual([{ id: row.id, generation: row.generation + 1 }])
                    }
                  }
                  expect(dials).toHaveLength(action === "retry" ? expected.size : 0)
                  expect(after.get(late.id)?.status).toBe(late.status) // the late one, untouched
                  const stored = yield* Bulk.find(op.id, "callbacks")
                  expect([stored.changed, stored.matched, stored.finishedAt !== undefined, stored.filter]).toEqual([expected.size, shown.size, true, filter])
                }).pipe(Effect.provide(context))
              )
          ),
          { numRuns: 100 }
        )
      )
    })
  )

  it.effect("a retry the one-active-request index refuses mid-batch is left alone, and the batch's other changes stand", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`TRUNCATE callback_requests, bulk_operations, jobs CASCADE`
      const business = yield* Effect.flatMap(BusinessStore, (store) => store.create(randomUUID(), businessInput({ name: "Twice Ltd" })))
      // two dead requests of one visitor (oldest first), then another visitor's
      const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()]
      for (const [id, phone, minute] of [[first, "+14155550001", 1], [second, "+14155550001", 2], [third, "+14155550002", 3]] as const) {
        yield* sql`
          INSERT INTO callback_requests (id, business_id, phone, status, created_at, finished_at)
          VALUES (${id}::uuid, ${business.id}::uuid, ${phone}, 'failed', ${new Date(BASE + minute * 60_000).toISOString()}::timestamptz, now())`
        yield* sql`INSERT INTO verifications (callback_id, used_at) VALUES (${id}::uuid, now())`
      }
      const op = yield* Bulk.startCallbacks("retry", { businessId: business.id }, "test", 3)
      // one batch of all three: the second's retry would make a second active request for the visitor
      expect(yield* Bulk.applyCallbackBatch(op.id, 3)).toEqual(Option.some({ changed: 2, finished: false }))
      expect(yield* Bulk.applyCallbackBatch(op.id, 3)).toEqual(Option.some({ changed: 0, finished: true }))
      const rows = yield* sql<{ id: string; status: string }>`SELECT id::text, status FROM callback_requests ORDER BY created_at`
      expect(rows).toEqual([
        { id: first, status: "queued" },
        { id: second, status: "failed" },
        { id: third, status: "queued" }
      ])
      expect((yield* Bulk.find(op.id, "callbacks")).changed).toBe(2)
    })
  )
})
