/**
 * The attempt store against real Postgres: attempts are numbered per request
 * and remember the status they started from; a call sid belongs to one
 * attempt (another attempt reporting it records nothing); an ended call keeps
 * the time it first ended; placed, unknown and the deletion of an unplaced
 * attempt apply only from the domain's unplaced statuses; a number takes one
 * create without a definite answer at a time, even when two dials race, and
 * an unresolved attempt older than the horizon no longer holds it; a row with a status
 * outside AttemptStatus is a defect.
 */
import { randomUUID } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AttemptStore } from "../../../infra/callbacks/AttemptStore.ts"
import { inTransaction } from "../../../infra/db/Transaction.ts"
import { callbackStoresRuntime, pendingRequest } from "../../support/callbackStores.ts"
import { cloneDatabase, query } from "../../support/database.ts"

let url: string
let runtime: ReturnType<typeof callbackStoresRuntime>
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = callbackStoresRuntime(url)
})
afterAll(() => runtime.dispose())

const attempts = <A, E>(f: (store: AttemptStore) => Effect.Effect<A, E>) => runtime.runPromise(Effect.flatMap(AttemptStore, f))

const newAttempt = (callbackId: string, fromStatus: "queued" | "retry_scheduled" | "escalated" = "queued", to = "+14155550100") =>
  attempts((s) => s.insert({ id: randomUUID(), callbackId, level: 0, attemptOnNumber: 1, to, ringSeconds: 20, fromStatus }))

const sid = () => `CA${randomUUID().replaceAll("-", "")}`

describe("attempt store", () => {
  it("numbers a request's attempts, starts them placing, and remembers where each started", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const first = await newAttempt(request.id)
    const second = await newAttempt(request.id, "retry_scheduled")
    expect([first.n, second.n]).toEqual([1, 2])
    expect(first).toMatchObject({ status: "placing", answered: false, lastSequence: -1, callSid: undefined, endedAt: undefined })
    expect((await attempts((s) => s.listOf(request.id))).map((a) => a.id)).toEqual([first.id, second.id])
    expect((await attempts((s) => s.lock(second.id))).pipe(Option.map((a) => a.fromStatus))).toEqual(Option.some("retry_scheduled"))
  })

  it("records a call sid on one attempt only", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const first = await newAttempt(request.id)
    const second = await newAttempt(request.id)
    const call = sid()
    await attempts((s) => s.markPlaced(first.id, call))
    expect(await attempts((s) => s.isCallKnown(call))).toBe(true)
    const reported = await attempts((s) => s.update(second.id, { status: "ringing", answered: false, callSid: call, sequence: 2 }))
    expect(reported).toMatchObject({ status: "ringing", callSid: undefined, lastSequence: 2 })
    await attempts((s) => s.markPlaced(second.id, call))
    expect((await attempts((s) => s.find(second.id))).pipe(Option.map((a) => a.callSid))).toEqual(Option.some(undefined))
    expect((await attempts((s) => s.find(first.id))).pipe(Option.map((a) => [a.status, a.callSid]))).toEqual(Option.some(["queued", call]))
  })

  it("ends an attempt on an ended status and keeps the first end; keeps the highest sequence and the first error", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const attempt = await newAttempt(request.id)
    const ringing = await attempts((s) => s.update(attempt.id, { status: "ringing", answered: false, sequence: 3 }))
    expect(ringing.endedAt).toBeUndefined()
    const busy = await attempts((s) => s.update(attempt.id, { status: "busy", answered: false, sequence: 1, error: "Twilio error 1" }))
    expect(busy.endedAt).toBeInstanceOf(Date)
    expect(busy.lastSequence).toBe(3)
    const again = await attempts((s) => s.update(attempt.id, { status: "failed", answered: false }))
    expect(again).toMatchObject({ status: "failed", endedAt: busy.endedAt, error: "Twilio error 1" })
  })

  it("marks unknown only while placing, placed only while unplaced, and deletes only an unplaced attempt", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const ambiguous = await newAttempt(request.id, "escalated")
    await attempts((s) => s.markUnknown(ambiguous.id, "lost answer"))
    expect((await attempts((s) => s.find(ambiguous.id))).pipe(Option.map((a) => [a.status, a.error]))).toEqual(Option.some(["unknown", "lost answer"]))
    const deleted = await attempts((s) => s.deleteUnplaced(ambiguous.id))
    expect(deleted.pipe(Option.map((a) => [a.id, a.fromStatus]))).toEqual(Option.some([ambiguous.id, "escalated"]))

    const reported = await newAttempt(request.id)
    await attempts((s) => s.update(reported.id, { status: "ringing", answered: false }))
    await attempts((s) => s.markUnknown(reported.id, "late"))
    await attempts((s) => s.markPlaced(reported.id, sid()))
    expect((await attempts((s) => s.find(reported.id))).pipe(Option.map((a) => [a.status, a.error]))).toEqual(Option.some(["ringing", undefined]))
    expect(Option.isNone(await attempts((s) => s.deleteUnplaced(reported.id)))).toBe(true)
    expect(Option.isSome(await attempts((s) => s.find(reported.id)))).toBe(true)
  })

  it("a number takes one create without a definite answer at a time: two racing dials, one passes", async () => {
    const to = `+1415557${String(1000 + Math.floor(Math.random() * 9000))}`
    const [one, two] = await Promise.all([runtime.runPromise(pendingRequest), runtime.runPromise(pendingRequest)])
    // each dial: check, then (if allowed) write its attempt, in one transaction; a pause between them widens the race
    const dialTo = (callbackId: string) =>
      runtime.runPromise(
        inTransaction(
          Effect.gen(function* () {
            const store = yield* AttemptStore
            const allowed = yield* store.mayCreateTo(to, 60_000)
            yield* Effect.sleep("100 millis")
            if (allowed) yield* store.insert({ id: randomUUID(), callbackId, level: 0, attemptOnNumber: 1, to, ringSeconds: 20, fromStatus: "queued" })
            return allowed
          })
        )
      )
    const results = await Promise.all([dialTo(one!.request.id), dialTo(two!.request.id)])
    expect(results.toSorted()).toEqual([false, true])
    const [placing] = await query<{ id: string }>(url, "SELECT id FROM call_attempts WHERE to_phone = $1", [to])
    // placing blocks; unknown blocks; a definite answer frees the number; other numbers are never held
    expect(await runtime.runPromise(inTransaction(Effect.flatMap(AttemptStore, (st) => st.mayCreateTo(to, 60_000))))).toBe(false)
    expect(await runtime.runPromise(inTransaction(Effect.flatMap(AttemptStore, (st) => st.mayCreateTo(to + "1", 60_000))))).toBe(true)
    await attempts((st) => st.markUnknown(placing!.id, "lost answer"))
    expect(await runtime.runPromise(inTransaction(Effect.flatMap(AttemptStore, (st) => st.mayCreateTo(to, 60_000))))).toBe(false)
    // past the horizon an unresolved create no longer holds the number (the two windows cannot overlap)
    expect(await runtime.runPromise(inTransaction(Effect.flatMap(AttemptStore, (st) => st.mayCreateTo(to, 0))))).toBe(true)
    await attempts((st) => st.markPlaced(placing!.id, sid()))
    expect(await runtime.runPromise(inTransaction(Effect.flatMap(AttemptStore, (st) => st.mayCreateTo(to, 60_000))))).toBe(true)
  })

  it("tells which call sids attempts own", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const attempt = await newAttempt(request.id)
    const mine = sid()
    await attempts((s) => s.markPlaced(attempt.id, mine))
    expect(await attempts((s) => s.ownedSids([mine, sid()]))).toEqual(new Set([mine]))
    expect(await attempts((s) => s.ownedSids([]))).toEqual(new Set())
  })

  it("an attempt row with a status outside AttemptStatus is a defect", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const attempt = await newAttempt(request.id)
    await query(url, "UPDATE call_attempts SET status = 'ringing-ish' WHERE id = $1", [attempt.id])
    const exit = await runtime.runPromiseExit(Effect.flatMap(AttemptStore, (s) => s.listOf(request.id)))
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toContain("ringing-ish")
  })
})
