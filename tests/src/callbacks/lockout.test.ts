/**
 * The phone lockout through the whole application (docs/callbacks.md "Budgets
 * and lockout"): a phone whose code was spent on wrong entries on 3 distinct
 * requests is locked for VERIFY_LOCKOUT_DURATION (3 s here): creates for it at
 * any business, resends and codes of its pending requests (even the right one)
 * are 429 with `Retry-After`, saying why without naming the number; then it
 * works again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

interface Problem {
  readonly type: string
  readonly detail: string
  readonly reason?: string
  readonly attemptsRemaining?: number
}

const post = (app: CallbackApp, path: string, body: unknown) => app.request(path, { method: "POST", admin: true, body: JSON.stringify(body) })

/** A code that is not `code`. */
const wrong = (code: string) => (code === "000000" ? "111111" : "000000")

describe("the phone lockout", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({
      databaseUrl: url,
      env: { VERIFICATION_MAX_CHECKS: "1", VERIFY_LOCKOUT: "3/24h", VERIFY_LOCKOUT_DURATION: "3s" }
    })
  })
  afterAll(() => app.dispose())

  it("3 requests whose code was spent lock the phone at every business, then it works again", async () => {
    const phone = freshNumber()
    const businesses = await Promise.all(Array.from({ length: 5 }, () => app.createBusiness()))
    const [pendingAt, ...others] = businesses
    // a request of the phone still waiting for its (right) code when the lock comes
    const pending = await app.create(pendingAt?.id ?? "", phone)
    const pendingCode = await app.codeFor(phone)
    const fail = async (businessId: string, nth: number) => {
      const created = await app.create(businessId, phone)
      const code = await app.codeFor(phone, nth)
      const response = await app.verify(created.id, wrong(code))
      expect(response.status).toBe(400)
      expect(((await response.json()) as Problem).attemptsRemaining).toBe(0)
      return created
    }
    const first = await fail(others[0]?.id ?? "", 2)
    // a spent code entered again is no new failure of another request
    expect((await app.verify(first.id, "123456")).status).toBe(410)
    await fail(others[1]?.id ?? "", 3)
    expect(await query(url, "SELECT 1 FROM phone_locks WHERE phone = $1", [phone])).toHaveLength(0)
    const lockedBy = await fail(others[2]?.id ?? "", 4)

    const refused = await post(app, "/v1/callbacks", { businessId: others[3]?.id, phone })
    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers.get("retry-after"))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(3)
    const problem = (await refused.json()) as Problem
    expect(problem).toMatchObject({ type: "/problems/rate-limited", reason: "lockout" })
    expect(problem.detail).not.toContain(phone.slice(2))
    // the pending request takes no code, not even the right one, and sends none
    const locked = await app.verify(pending.id, pendingCode)
    expect(locked.status).toBe(429)
    expect(((await locked.json()) as Problem).reason).toBe("lockout")
    expect((await post(app, `/v1/callbacks/${pending.id}/verification/resend`, {})).status).toBe(429)
    // another phone is not affected
    expect((await post(app, "/v1/callbacks", { businessId: others[3]?.id, phone: freshNumber() })).status).toBe(202)

    const [event] = await query<{ subject: string; business_id: string }>(url, "SELECT subject, business_id FROM operational_events WHERE type = 'phone.locked'")
    expect(event).toEqual({ subject: lockedBy.id, business_id: others[2]?.id })
    const metrics = await (await app.request("/metrics")).text()
    expect(/^switchboard_phone_lockouts_total (\d+)$/m.exec(metrics)?.[1]).toBe("1")

    // once the lock is over: the right code works, and so does a new request
    const verified = await eventually(async () => {
      const response = await app.verify(pending.id, pendingCode)
      return response.status === 429 ? undefined : response
    }, 6_000, "the lock to end")
    expect(verified.status).toBe(200)
    expect((await post(app, "/v1/callbacks", { businessId: others[3]?.id, phone })).status).toBe(202)
  })
})
