/**
 * The request store against real Postgres: a request is created with its
 * verification row, once per active (business, phone); every status write is
 * an event of the domain's table, applied only from its sources and under the
 * caller's guard; a take-back returns a dialing request to the status its
 * attempt started from, and only while that attempt is current; each status
 * entered is counted, a take-back is not; a row the domain refuses is a defect.
 */
import { randomUUID } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CallbackRequest } from "../../../domain/callbacks/Business.ts"
import type { CallbackStatus } from "../../../domain/callbacks/CallbackState.ts"
import { RequestStore } from "../../../infra/callbacks/RequestStore.ts"
import { VerificationStore } from "../../../infra/callbacks/VerificationStore.ts"
import { Metrics } from "../../../infra/observability/Metrics.ts"
import { callbackStoresRuntime, pendingRequest } from "../../support/callbackStores.ts"
import { cloneDatabase, query } from "../../support/database.ts"

let url: string
let runtime: ReturnType<typeof callbackStoresRuntime>
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = callbackStoresRuntime(url)
})
afterAll(() => runtime.dispose())

const run = <A, E>(effect: Effect.Effect<A, E, Effect.Effect.Context<typeof pendingRequest> | Metrics | VerificationStore>) => runtime.runPromise(effect)
const requests = <A, E>(f: (store: RequestStore) => Effect.Effect<A, E>) => run(Effect.flatMap(RequestStore, f))

/** How many times `status` was entered, by switchboard_callbacks_total. */
const entered = (status: CallbackStatus) =>
  run(Effect.flatMap(Metrics, (m) => Effect.promise(() => m.callbacks.get()))).then((m) => m.values.find((v) => v.labels.status === status)?.value ?? 0)

/** A request moved to dialing on attempt `attemptId`, from queued. */
const dialing = async (attemptId = randomUUID()) => {
  const { request } = await run(pendingRequest)
  await requests((s) => s.applyEvent(request.id, "verify"))
  const moved = await requests((s) => s.applyEvent(request.id, "dial", { currentAttemptId: attemptId, attemptOnNumber: 1 }))
  return { request: Option.getOrThrow(moved), attemptId }
}

describe("request store", () => {
  it("creates a request awaiting verification with its verification row; a second for the pair is ActiveRequestExists naming the first", async () => {
    const before = await entered("pending_verification")
    const { business, request } = await run(pendingRequest)
    expect(request).toMatchObject({ businessId: business.id, status: "pending_verification", generation: 0, attemptOnNumber: 0, currentAttemptId: undefined })
    expect(await entered("pending_verification")).toBe(before + 1)
    const verification = Option.getOrThrow(await run(Effect.flatMap(VerificationStore, (v) => v.lock(request.id))))
    expect(verification).toMatchObject({ codeHash: undefined, checks: 0, usedAt: undefined })
    expect(verification.sends).toHaveLength(1)

    const again = await run(
      Effect.flip(
        Effect.flatMap(RequestStore, (s) =>
          s.create({ id: randomUUID(), businessId: business.id, phone: request.phone, name: undefined, note: undefined, priority: "normal", traceparent: undefined })
        )
      )
    )
    expect(again).toMatchObject({ _tag: "ActiveRequestExists", id: request.id })
    expect(await entered("pending_verification")).toBe(before + 1)
  })

  it("applies an event only from its sources, and only where the caller saw the request", async () => {
    const { request } = await run(pendingRequest)
    expect(Option.isNone(await requests((s) => s.applyEvent(request.id, "dial")))).toBe(true)
    const queued = Option.getOrThrow(await requests((s) => s.applyEvent(request.id, "verify", { scheduledFor: new Date("2030-01-01T00:00:00Z") })))
    expect(queued).toMatchObject({ status: "queued", scheduledFor: new Date("2030-01-01T00:00:00Z") })

    const moved: Option.Option<CallbackRequest> = await requests((s) =>
      s.applyEvent(request.id, "dial", { attemptOnNumber: 1 }, { expected: { ...queued, attemptOnNumber: queued.attemptOnNumber + 1 } })
    )
    expect(Option.isNone(moved)).toBe(true)
    const dialed = Option.getOrThrow(await requests((s) => s.applyEvent(request.id, "dial", { attemptOnNumber: 1 }, { expected: queued })))
    expect(dialed).toMatchObject({ status: "dialing", attemptOnNumber: 1 })

    const given = Option.getOrThrow(await requests((s) => s.applyEvent(request.id, "giveUp")))
    expect(given.status).toBe("failed")
    expect(given.finishedAt).toBeInstanceOf(Date)
  })

  it("takes a dialing request back to the status its attempt started from, only while that attempt is current, uncounted", async () => {
    const { request, attemptId } = await dialing()
    const queuedBefore = await entered("queued")

    const otherAttempt = await requests((s) => s.applyEvent(request.id, "takeBack", { currentAttemptId: null }, { to: "queued", currentAttempt: randomUUID() }))
    expect(Option.isNone(otherAttempt)).toBe(true)
    const illegal = await requests((s) => s.applyEvent(request.id, "takeBack", { currentAttemptId: null }, { to: "failed", currentAttempt: attemptId }))
    expect(Option.isNone(illegal)).toBe(true)
    expect((await requests((s) => s.find(request.id))).pipe(Option.map((r) => r.status))).toEqual(Option.some("dialing"))

    const back = Option.getOrThrow(
      await requests((s) => s.applyEvent(request.id, "takeBack", { attemptOnNumber: 0, currentAttemptId: null }, { to: "queued", currentAttempt: attemptId }))
    )
    expect(back).toMatchObject({ status: "queued", attemptOnNumber: 0, currentAttemptId: undefined, finishedAt: undefined })
    expect(await entered("queued")).toBe(queuedBefore)
    // not twice: it is no longer dialing
    expect(Option.isNone(await requests((s) => s.applyEvent(request.id, "takeBack", {}, { to: "queued", currentAttempt: attemptId })))).toBe(true)

    const escalated = await dialing()
    const toEscalated = await requests((s) => s.applyEvent(escalated.request.id, "takeBack", { currentAttemptId: null }, { to: "escalated", currentAttempt: escalated.attemptId }))
    expect(toEscalated.pipe(Option.map((r) => r.status))).toEqual(Option.some("escalated"))
  })

  it("refuses to guess the target of takeBack: a defect, and nothing written", async () => {
    const { request } = await dialing()
    const exit = await runtime.runPromiseExit(Effect.flatMap(RequestStore, (s) => s.applyEvent(request.id, "takeBack")))
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    expect((await requests((s) => s.find(request.id))).pipe(Option.map((r) => r.status))).toEqual(Option.some("dialing"))
  })

  it("an administrator's retry that would make a second active request is ActiveRequestExists", async () => {
    const { business, request } = await run(pendingRequest)
    await requests((s) => s.applyEvent(request.id, "cancel"))
    await requests((s) =>
      s.create({ id: randomUUID(), businessId: business.id, phone: request.phone, name: undefined, note: undefined, priority: "normal", traceparent: undefined })
    )
    const refused = await run(Effect.flip(Effect.flatMap(RequestStore, (s) => s.applyEvent(request.id, "adminRetry", { bumpGeneration: true }))))
    expect(refused).toMatchObject({ _tag: "ActiveRequestExists", id: undefined })
  })

  it("lists newest first with cursors, and counts by status", async () => {
    const { business } = await run(pendingRequest)
    const page = await requests((s) => s.list({ businessId: business.id, limit: 10 }))
    expect(page).toHaveLength(1)
    expect(page[0]?.cursor).toMatch(/^\d+\.[0-9a-f-]{36}$/)
    const counts = await requests((s) => s.countByStatus)
    expect(counts.find((c) => c.status === "pending_verification")?.n).toBeGreaterThan(0)
  })

  it("a request row the domain refuses is a defect naming the value", async () => {
    const { request } = await run(pendingRequest)
    // the status has a CHECK constraint; the phone's format is the domain's alone
    await query(url, "UPDATE callback_requests SET phone = '0151 2345' WHERE id = $1", [request.id])
    const exit = await runtime.runPromiseExit(Effect.flatMap(RequestStore, (s) => s.find(request.id)))
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toContain("phone")
  })
})
