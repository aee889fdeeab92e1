/**
 * The request history against real Postgres: every change writes one event in
 * its own statement or transaction (none when that rolls back), `seq` has no
 * gap, events are never updated, and the global read never skips an event
 * whose transaction commits after a later one's, while keeping each request's
 * events in `seq` order.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { replay } from "../../../domain/callbacks/History.ts"
import { type Cursor, formatCursor, HistoryStore, parseCursor, START } from "../../../infra/callbacks/HistoryStore.ts"
import { RequestStore } from "../../../infra/callbacks/RequestStore.ts"
import { inTransaction } from "../../../infra/db/Transaction.ts"
import { callbackStoresRuntime, pendingRequest } from "../../support/callbackStores.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

let url: string
let runtime: ReturnType<typeof callbackStoresRuntime>
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = callbackStoresRuntime(url)
})
afterAll(() => runtime.dispose())

const run = <A, E>(effect: Effect.Effect<A, E, Effect.Effect.Context<typeof pendingRequest> | HistoryStore | Effect.Effect.Context<ReturnType<typeof inTransaction>>>) =>
  runtime.runPromise(effect as Effect.Effect<A, E, never>)
const history = <A, E>(f: (store: HistoryStore) => Effect.Effect<A, E>) => run(Effect.flatMap(HistoryStore, f))
const requests = <A, E>(f: (store: RequestStore) => Effect.Effect<A, E>) => run(Effect.flatMap(RequestStore, f))

/** Every event after `cursor` that `read` finds now, read page by page as a stream would. */
const pages = async <E extends { readonly position: string }>(cursor: Cursor, read: (at: Cursor) => Promise<ReadonlyArray<E>>) => {
  const seen: Array<E> = []
  let at = cursor
  for (;;) {
    const page = await read(at)
    seen.push(...page)
    const last = page[page.length - 1]
    if (last === undefined) return seen
    at = parseCursor(last.position) ?? at
  }
}

/** Every request event after `cursor` that readers can see now. */
const readAll = (cursor: Cursor, businessId?: string) => pages(cursor, (at) => history((h) => h.after(at, { businessId, limit: 3 })))

describe("request history", () => {
  it("records the creation and every move, numbered without gaps, replaying to the request's status", async () => {
    const { request } = await run(pendingRequest)
    const attemptId = randomUUID()
    await requests((s) => s.applyEvent(request.id, "verify", { scheduledFor: new Date() }))
    await requests((s) => s.applyEvent(request.id, "dial", { currentAttemptId: attemptId, attemptOnNumber: 1 }, {}, { to: "+14155550100" }))
    await history((h) => h.append(request.id, "call.status", { attemptId, callStatus: "ringing", answered: false }))
    await requests((s) => s.applyEvent(request.id, "answer"))
    await requests((s) => s.applyEvent(request.id, "hangUp"))
    const events = await history((h) => h.ofRequest(request.id))
    expect(events.map((e) => [e.seq, e.type, e.status])).toEqual([
      [1, "callback.created", "pending_verification"],
      [2, "callback.verified", "queued"],
      [3, "callback.dialing", "dialing"],
      [4, "call.status", "dialing"],
      [5, "callback.connected", "connected"],
      [6, "callback.completed", "completed"]
    ])
    expect(events[2]?.data).toEqual({ attemptId, level: 0, attemptOnNumber: 1, to: "+14155550100" })
    expect(events[4]?.data).toEqual({ attemptId })
    expect(replay(events)).toEqual(Either.right("completed"))
    const final = Option.getOrThrow(await requests((s) => s.find(request.id)))
    expect(final.status).toBe("completed")
    // only what a move changes: a refused move records nothing
    expect(Option.isNone(await requests((s) => s.applyEvent(request.id, "cancel")))).toBe(true)
    expect(await history((h) => h.ofRequest(request.id))).toHaveLength(6)
    expect((await history((h) => h.ofRequest(request.id, 4))).map((e) => e.seq)).toEqual([5, 6])
  })

  it("a rolled-back transaction leaves no event and no hole in seq", async () => {
    const { request } = await run(pendingRequest)
    const failed = await run(
      Effect.either(
        inTransaction(
          Effect.gen(function* () {
            yield* Effect.flatMap(RequestStore, (s) => s.applyEvent(request.id, "verify", { scheduledFor: new Date() }))
            yield* Effect.flatMap(HistoryStore, (h) => h.append(request.id, "callback.code_sent", { messageId: randomUUID() }))
            return yield* Effect.fail("boom" as const)
          })
        )
      )
    )
    expect(Either.isLeft(failed)).toBe(true)
    expect((await history((h) => h.ofRequest(request.id))).map((e) => e.seq)).toEqual([1])
    await requests((s) => s.applyEvent(request.id, "verify", { scheduledFor: new Date() }))
    expect((await history((h) => h.ofRequest(request.id))).map((e) => [e.seq, e.type])).toEqual([
      [1, "callback.created"],
      [2, "callback.verified"]
    ])
  })

  it("events are never updated; retention deletes them with their request", async () => {
    const { request } = await run(pendingRequest)
    await expect(query(url, "UPDATE callback_events SET type = 'callback.failed' WHERE callback_id = $1", [request.id])).rejects.toThrow(/append-only/)
    await requests((s) => s.applyEvent(request.id, "cancel"))
    await query(url, "DELETE FROM callback_requests WHERE id = $1", [request.id])
    expect(await query(url, "SELECT 1 FROM callback_events WHERE callback_id = $1", [request.id])).toHaveLength(0)
  })

  it("the global read waits for a transaction that started writing earlier and commits later, then yields both, each request in seq order", async () => {
    const { business, request } = await run(pendingRequest)
    const [created] = await history((h) => h.ofRequest(request.id))
    const start = parseCursor(created?.position ?? "") ?? START
    const early = new pg.Client({ connectionString: url })
    const late = new pg.Client({ connectionString: url })
    await early.connect()
    await late.connect()
    try {
      // `early` takes its transaction id first, but writes its event last
      await early.query("BEGIN")
      await early.query("SELECT pg_current_xact_id()")
      await late.query("BEGIN")
      await late.query("UPDATE callback_requests SET event_seq = event_seq + 1, event_tx = greatest(pg_current_xact_id(), event_tx) WHERE id = $1", [request.id])
      await late.query(
        `INSERT INTO callback_events (tx, callback_id, business_id, seq, type, status, data)
         SELECT event_tx, id, business_id, event_seq, 'callback.code_sent', status, jsonb_build_object('messageId', gen_random_uuid()) FROM callback_requests WHERE id = $1`,
        [request.id]
      )
      await late.query("COMMIT")
      // `late` committed, but `early` is still running and might write below it: nothing is readable yet
      expect((await readAll(start, business.id)).map((e) => e.seq)).toEqual([])
      await early.query("UPDATE callback_requests SET event_seq = event_seq + 1, event_tx = greatest(pg_current_xact_id(), event_tx) WHERE id = $1", [request.id])
      await early.query(
        `INSERT INTO callback_events (tx, callback_id, business_id, seq, type, status, data)
         SELECT event_tx, id, business_id, event_seq, 'callback.code_sent', status, jsonb_build_object('messageId', gen_random_uuid()) FROM callback_requests WHERE id = $1`,
        [request.id]
      )
      await early.query("COMMIT")
      const all = await eventually(async () => {
        const events = await readAll(start, business.id)
        return events.length === 2 ? events : undefined
      }, 10_000, "both events past the horizon")
      // by transaction id alone `early`'s event would come first; raised to the request's last one, it follows it
      expect(all.map((e) => e.seq)).toEqual([2, 3])
      // read again from each event's cursor: exactly the ones after it
      for (const [i, event] of all.entries()) {
        expect((await readAll(parseCursor(event.position) ?? START, business.id)).map((e) => e.seq)).toEqual(all.slice(i + 1).map((e) => e.seq))
      }
    } finally {
      await early.end()
      await late.end()
    }
  })

  it("a job's failures, give-up and operator retry are operational events, merged with the request's in one order", async () => {
    const { business, request } = await run(pendingRequest)
    const [created] = await history((h) => h.ofRequest(request.id))
    const start = parseCursor(created?.position ?? "") ?? START
    const [job] = await query<{ id: string }>(
      url,
      `INSERT INTO jobs (queue, kind, args, state, attempt, max_attempts, lease) VALUES ('default', 'test.job', $1, 'running', 1, 2, 0) RETURNING id::text`,
      [JSON.stringify({ callbackId: request.id })]
    )
    const id = job?.id ?? ""
    // claimed and completed leave no trace; a failure, a give-up and an operator's retry do
    await query(url, `UPDATE jobs SET state = 'retryable', lease = NULL, errors = '[{"message":"first"}]', run_at = now() WHERE id = $1`, [id])
    await requests((s) => s.applyEvent(request.id, "verify", { scheduledFor: new Date() }))
    await query(url, `UPDATE jobs SET state = 'available' WHERE id = $1`, [id])
    await query(url, `UPDATE jobs SET state = 'running', lease = 1, attempt = 2 WHERE id = $1`, [id])
    await query(url, `UPDATE jobs SET state = 'discarded', lease = NULL, errors = errors || '[{"message":"second"}]' WHERE id = $1`, [id])
    await query(url, `UPDATE jobs SET state = 'available' WHERE id = $1`, [id])
    await query(url, `UPDATE jobs SET state = 'running', lease = 2 WHERE id = $1`, [id])
    await query(url, `UPDATE jobs SET state = 'completed', lease = NULL WHERE id = $1`, [id])
    const everything = (filter: string | undefined) => pages(start, (at) => history((h) => h.everythingAfter(at, { businessId: filter, limit: 2 })))
    const all = await eventually(async () => {
      const events = await everything(business.id)
      return events.length === 4 ? events : undefined
    }, 10_000, "four events")
    expect(all.map((e) => e.type)).toEqual(["job.failed", "callback.verified", "job.discarded", "job.retried"])
    expect(all[0]).toMatchObject({ subject: id, businessId: business.id, data: { kind: "test.job", attempt: 1, error: "first", callbackId: request.id } })
    expect(all[2]).toMatchObject({ data: { error: "second", attempt: 2 } })
    // another business sees none of it; no filter sees the same
    expect(await everything(randomUUID())).toEqual([])
    expect((await everything(undefined)).filter((e) => e.businessId === business.id)).toEqual(all)
    const head = await history((h) => h.head)
    expect(await history((h) => h.everythingAfter(head, { limit: 10 }))).toEqual([])
    await expect(query(url, "UPDATE operational_events SET type = 'job.failed' WHERE subject = $1", [id])).rejects.toThrow(/append-only/)
  })

  it("cursors round-trip and refuse what is not one", () => {
    expect(parseCursor(formatCursor({ tx: "748", position: "1023" }))).toEqual({ tx: "748", position: "1023" })
    for (const bad of ["", "1", "a.b", "1.2.3", "-1.2", "1.99999999999999999999"]) expect(parseCursor(bad)).toBeUndefined()
  })
})
