/**
 * Ambiguous creates against the real app and simulator when the status
 * callbacks never arrive (PUBLIC_BASE_URL points where nothing listens), so
 * every call is found by reconciliation's listing alone:
 * - one ambiguous create ends with exactly one call, owned by its attempt;
 * - so does one whose call waits in Twilio's queue (no start time) for far
 *   longer than CALL_STATUS_TIMEOUT: it is adopted while still queued, where
 *   a listing by start time found nothing and dialed the business again;
 * - two ambiguous creates to one business number at once (two slots, two
 *   requests) end with one call each, each attempt owning its own, and the
 *   second create waited for the first to be resolved.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

describe("reconciling ambiguous creates whose callbacks are lost", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({
      databaseUrl: url,
      // port 9 (discard): nothing answers there, so every status callback and TwiML fetch is lost
      env: { PUBLIC_BASE_URL: "http://127.0.0.1:9", CALL_STATUS_TIMEOUT: "1s", TWILIO_TIMEOUT: "2s" }
    })
  })
  afterAll(() => app.dispose())

  const attemptsOf = (callbackId: string) =>
    query<{ call_sid: string | null; status: string; started_at: Date }>(url, "SELECT call_sid, status, started_at FROM call_attempts WHERE callback_id = $1 ORDER BY n", [callbackId])

  /** The request's attempts once each owns a call sid. */
  const ownedCalls = (callbackId: string) =>
    eventually(async () => {
      const rows = await attemptsOf(callbackId)
      return rows.length > 0 && rows.every((row) => row.call_sid !== null) ? rows : undefined
    }, 30_000, `the attempts of ${callbackId} to own their calls`)

  it("an ambiguous create whose callbacks are lost ends with exactly one call, which its attempt owns", async () => {
    const business = await app.createBusiness({ ringSeconds: 5 })
    await app.script(business.phone, "answered", { afterMs: 100, talkMs: 100 })
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ createThenFail: true, calls: { status: 500, count: 1 } }) })
    const created = await app.verified(business.id)
    const [attempt] = await ownedCalls(created.id)
    const calls = await app.callsTo(business.phone)
    expect(calls).toHaveLength(1)
    expect(attempt?.call_sid).toBe(calls[0]?.sid)
    const done = await app.waitForStatus(created.id, "completed", 30_000)
    expect(done.attempts).toHaveLength(1)
    expect(await app.callsTo(business.phone)).toHaveLength(1)
  })

  it("an ambiguous create whose call stays queued past CALL_STATUS_TIMEOUT, callbacks lost, is adopted while queued: exactly one call", async () => {
    const business = await app.createBusiness({ ringSeconds: 5 })
    // 8 s in the queue: eight quiet periods without a report, and no start_time all along
    await app.script(business.phone, "answered", { queueMs: 8_000, afterMs: 100, talkMs: 100 })
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ createThenFail: true, calls: { status: 500, count: 1 } }) })
    const created = await app.verified(business.id)
    const [attempt] = await ownedCalls(created.id)
    const [call, ...others] = (await app.callsTo(business.phone)) as ReadonlyArray<{ sid: string; status: string; startedAt?: string | null }>
    expect(others).toEqual([])
    expect(attempt?.call_sid).toBe(call?.sid)
    // adopted before the call ever started
    expect(call?.status).toBe("queued")
    expect(call?.startedAt ?? undefined).toBeUndefined()
    const done = await app.waitForStatus(created.id, "completed", 40_000)
    expect(done.attempts).toHaveLength(1)
    expect(await app.callsTo(business.phone)).toHaveLength(1)
  })

  it("two ambiguous creates to one number at once end with one call each, each attempt owning its own", async () => {
    const business = await app.createBusiness({ maxConcurrentCalls: 2, ringSeconds: 5 })
    await app.script(business.phone, "answered", { afterMs: 100, talkMs: 100 })
    // both creates make their call and answer 500
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ createThenFail: true, calls: { status: 500, count: 2 } }) })
    const [first, second] = await Promise.all([app.verified(business.id), app.verified(business.id)])
    const firstRows = await ownedCalls(first.id)
    const secondRows = await ownedCalls(second.id)
    const calls = await app.callsTo(business.phone)
    expect(calls).toHaveLength(2)
    expect(firstRows).toHaveLength(1)
    expect(secondRows).toHaveLength(1)
    const owned = [firstRows[0]?.call_sid, secondRows[0]?.call_sid]
    expect(new Set(owned).size).toBe(2)
    expect(owned.toSorted()).toEqual(calls.map((call) => call.sid).toSorted())
    // each attempt owns the call created in its own create: the call made after its attempt began, before the other's
    const byStart = [...firstRows, ...secondRows].toSorted((a, b) => a.started_at.getTime() - b.started_at.getTime())
    const byCreation = calls.toSorted((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))
    expect(byStart.map((row) => row.call_sid)).toEqual(byCreation.map((call) => call.sid))
    for (const [i, row] of byStart.entries()) expect(Date.parse(byCreation[i]?.createdAt ?? "")).toBeGreaterThanOrEqual(row.started_at.getTime())
    await Promise.all([app.waitForStatus(first.id, "completed", 30_000), app.waitForStatus(second.id, "completed", 30_000)])
    expect(await app.callsTo(business.phone)).toHaveLength(2)
  })
})
