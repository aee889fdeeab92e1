/**
 * The public and admin callback API's contract beyond the happy path (API.md):
 * validation and normalisation of phones, conflicts, Idempotency-Key, rate
 * limits per phone and per client IP (with TRUST_PROXY), VIP priority,
 * business administration, stats, the callback metrics, and the daily report.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

interface Problem {
  readonly type: string
  readonly status: number
  readonly detail: string
  readonly id?: string
  readonly errors?: ReadonlyArray<{ readonly path: string; readonly message: string }>
}

/** A POST with the admin token (which a create by `businessId` needs), unless `headers` say otherwise. */
const post = (app: CallbackApp, path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, { method: "POST", admin: headers["authorization"] === undefined, headers, body: JSON.stringify(body) })

describe("the callback API", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({
      databaseUrl: url,
      env: { RATE_LIMIT_CREATE_PER_PHONE: "2/1h", RATE_LIMIT_CREATE_PER_IP: "1000/10m", TRUST_PROXY: "1" }
    })
  })
  afterAll(() => app.dispose())

  it("normalises a local number with the business's country, and refuses landlines and junk with a field path", async () => {
    const business = await app.createBusiness({ country: "DE", timezone: "Europe/Berlin" })
    const created = await post(app, "/v1/callbacks", { businessId: business.id, phone: "0151 23456789" })
    expect(created.status).toBe(202)
    const { id } = (await created.json()) as { id: string }
    const [row] = await query<{ phone: string }>(url, "SELECT phone FROM callback_requests WHERE id = $1", [id])
    expect(row?.phone).toBe("+4915123456789")
    for (const phone of ["030 12345678", "not a number", "+1"]) {
      const refused = await post(app, "/v1/callbacks", { businessId: business.id, phone })
      expect(refused.status).toBe(400)
      const problem = (await refused.json()) as Problem
      expect(problem.type).toBe("/problems/validation")
      expect(problem.errors).toEqual([{ in: "body", path: "/phone", message: expect.any(String) }])
    }
    const missing = (await (await post(app, "/v1/callbacks", { name: 7 })).json()) as Problem
    expect(missing.errors?.map((e) => e.path).sort()).toEqual(["/name", "/phone"])
    // with the admin token the business is the body's: without it, that is the one error
    const noBusiness = (await (await post(app, "/v1/callbacks", { phone: freshNumber() })).json()) as Problem
    expect(noBusiness.errors).toEqual([{ in: "body", path: "/businessId", message: "is required with the admin token" }])
  })

  it("404 for an unknown business; 409 naming the active request for the same phone and business", async () => {
    expect((await post(app, "/v1/callbacks", { businessId: crypto.randomUUID(), phone: freshNumber() })).status).toBe(404)
    expect((await post(app, "/v1/callbacks", { businessId: "not-an-id", phone: freshNumber() })).status).toBe(404)
    const business = await app.createBusiness()
    const first = await app.create(business.id)
    const again = await post(app, "/v1/callbacks", { businessId: business.id, phone: first.phone })
    expect(again.status).toBe(409)
    expect(((await again.json()) as Problem).id).toBe(first.id)
  })

  it("Idempotency-Key: the same body replays the first response (no second request, no second text); another body is 422", async () => {
    const business = await app.createBusiness()
    const phone = freshNumber()
    const body = { businessId: business.id, phone, name: "Ada" }
    const key = { "Idempotency-Key": crypto.randomUUID() }
    const first = await post(app, "/v1/callbacks", body, key)
    expect(first.status).toBe(202)
    const firstBody = await first.json()
    // key order does not matter
    const replay = await post(app, "/v1/callbacks", { name: "Ada", phone, businessId: business.id }, key)
    expect(replay.status).toBe(202)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    expect(await replay.json()).toEqual(firstBody)
    const other = await post(app, "/v1/callbacks", { ...body, name: "Grace" }, key)
    expect(other.status).toBe(422)
    expect(((await other.json()) as Problem).type).toBe("/problems/idempotency-mismatch")
    await app.codeFor(phone)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await app.messagesTo(phone)).toHaveLength(1)
    const [count] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM callback_requests WHERE phone = $1", [phone])
    expect(Number(count?.n)).toBe(1)
    // past its 24 hours the key is free again: another body is a new request
    await query(url, "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", [`create:${key["Idempotency-Key"]}`])
    const later = await post(app, "/v1/callbacks", { businessId: business.id, phone: freshNumber() }, key)
    expect(later.status).toBe(202)
    expect(later.headers.get("idempotent-replayed")).toBeNull()
    expect(((await later.json()) as { id: string }).id).not.toBe((firstBody as { id: string }).id)
  })

  it("per phone: the third accepted request within the hour is 429 with Retry-After; refused and replayed ones do not count", async () => {
    const phone = freshNumber()
    const businesses = await Promise.all([1, 2, 3].map(() => app.createBusiness()))
    const key = { "Idempotency-Key": crypto.randomUUID() }
    expect((await post(app, "/v1/callbacks", { businessId: businesses[0]!.id, phone }, key)).status).toBe(202)
    expect((await post(app, "/v1/callbacks", { businessId: businesses[0]!.id, phone }, key)).status).toBe(202) // a replay
    expect((await post(app, "/v1/callbacks", { businessId: businesses[0]!.id, phone })).status).toBe(409) // refused
    expect((await post(app, "/v1/callbacks", { businessId: businesses[1]!.id, phone })).status).toBe(202)
    const limited = await post(app, "/v1/callbacks", { businessId: businesses[2]!.id, phone })
    expect(limited.status).toBe(429)
    expect(((await limited.json()) as Problem).type).toBe("/problems/rate-limited")
    const retryAfter = Number(limited.headers.get("retry-after"))
    expect(retryAfter).toBeGreaterThan(3_500)
    expect(retryAfter).toBeLessThanOrEqual(3_600)
    const [count] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM callback_requests WHERE phone = $1", [phone])
    expect(Number(count?.n)).toBe(2)
    // counted before the create's transaction, given back by whatever created nothing
    const [events] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM rate_events WHERE bucket = $1", [`create:phone:${phone}`])
    expect(Number(events?.n)).toBe(2)
    // the limit reached, a repeat of the first create is still its replay, and counts nothing
    const again = await post(app, "/v1/callbacks", { businessId: businesses[0]!.id, phone }, key)
    expect(again.status).toBe(202)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    const [after] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM rate_events WHERE bucket = $1", [`create:phone:${phone}`])
    expect(Number(after?.n)).toBe(2)
  })

  it("VIP phones are high priority: with the only slot busy, a VIP verified later is called first", async () => {
    const vip = freshNumber()
    const business = await app.createBusiness({ maxConcurrentCalls: 1, vipPhones: [vip] })
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 1_500 })
    const holder = await app.verified(business.id)
    await app.waitForStatus(holder.id, "connected")
    const normal = await app.verified(business.id)
    const important = await app.verified(business.id, vip)
    expect((await app.view(important.id)).priority).toBe("high")
    expect((await app.view(normal.id)).priority).toBe("normal")
    const [vipDone, normalDone] = await Promise.all([app.waitForStatus(important.id, "completed"), app.waitForStatus(normal.id, "completed")])
    expect(Date.parse(vipDone.attempts[0]!.startedAt)).toBeLessThan(Date.parse(normalDone.attempts[0]!.startedAt))
  })

  it("admin businesses: create validates every field, PATCH changes some and re-validates the whole", async () => {
    const bad = await app.request("/admin/api/businesses", {
      method: "POST",
      admin: true,
      body: JSON.stringify({ name: "", phone: "12", timezone: "Mars/Base", hours: { mon: [["17:00", "09:00"]] }, escalation: [{ phone: "x", ringSeconds: 1 }], maxConcurrentCalls: 0, smsFallback: "yes", extra: 1 })
    })
    expect(bad.status).toBe(400)
    const paths = ((await bad.json()) as Problem).errors?.map((e) => e.path) ?? []
    for (const path of ["/name", "/timezone", "/escalation/0/ringSeconds", "/maxConcurrentCalls", "/smsFallback", "/extra", "/hours/mon/0"]) expect(paths).toContain(path)
    // phones are read once the fields' shapes hold (they need the country): each bad one at its own pointer
    const phones = await app.request("/admin/api/businesses", {
      method: "POST",
      admin: true,
      body: JSON.stringify({ name: "B", phone: "12", timezone: "UTC", escalation: [{ phone: "+14155550100" }, { phone: "x" }], vipPhones: ["nope"] })
    })
    expect(((await phones.json()) as Problem).errors?.map((e) => e.path)).toEqual(["/phone", "/escalation/1/phone", "/vipPhones/0"])

    const business = await app.createBusiness({ hours: { mon: [["09:00", "17:00"]] } })
    const patched = await app.request(`/admin/api/businesses/${business.id}`, { method: "PATCH", admin: true, body: JSON.stringify({ maxConcurrentCalls: 4, hours: null }) })
    expect(patched.status).toBe(200)
    const after = (await patched.json()) as Record<string, unknown>
    expect(after).toMatchObject({ id: business.id, phone: business.phone, maxConcurrentCalls: 4 })
    expect(after).not.toHaveProperty("hours") // null cleared it: always open
    const refused = await app.request(`/admin/api/businesses/${business.id}`, { method: "PATCH", admin: true, body: JSON.stringify({ timezone: "Nowhere" }) })
    expect(refused.status).toBe(400)
    expect(((await (await app.request(`/admin/api/businesses/${business.id}`, { admin: true })).json()) as { timezone: string }).timezone).toBe("UTC")
    expect((await app.request(`/admin/api/businesses/${crypto.randomUUID()}`, { admin: true })).status).toBe(404)
    const list = (await (await app.request("/admin/api/businesses?limit=500", { admin: true })).json()) as { items: ReadonlyArray<{ id: string }> }
    expect(list.items.map((b) => b.id)).toContain(business.id)
  })

  it("cancel: a pending request is cancelled, a finished one is 409; stats and metrics count what happened", async () => {
    const business = await app.createBusiness()
    const pending = await app.create(business.id)
    const cancelled = await app.request(`/admin/api/callbacks/${pending.id}/cancel`, { method: "POST", admin: true })
    expect(cancelled.status).toBe(200)
    expect(((await cancelled.json()) as { status: string }).status).toBe("cancelled")
    expect((await app.request(`/admin/api/callbacks/${pending.id}/cancel`, { method: "POST", admin: true })).status).toBe(409)
    const done = await app.verified(business.id)
    await app.waitForStatus(done.id, "completed")

    const stats = (await (await app.request("/admin/api/stats", { admin: true })).json()) as {
      callbacks: Record<string, number>
      last24h: { created: number; completed: number; failed: number }
      successRate: number | null
    }
    const [counts] = await query<{ completed: string; cancelled: string; created: string }>(
      url,
      "SELECT count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'cancelled') AS cancelled, count(*) AS created FROM callback_requests"
    )
    expect(stats.callbacks.completed).toBe(Number(counts?.completed))
    expect(stats.callbacks.cancelled).toBe(Number(counts?.cancelled))
    expect(stats.last24h.created).toBe(Number(counts?.created))
    expect(stats.successRate).toBe(1)

    const metrics = await (await app.request("/metrics")).text()
    const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? NaN)
    expect(value(/switchboard_callbacks_in_state\{status="completed"\} (\d+)/)).toBe(Number(counts?.completed))
    expect(value(/switchboard_callbacks_total\{status="completed"\} (\d+)/)).toBe(Number(counts?.completed))
    expect(value(/switchboard_callbacks_total\{status="cancelled"\} (\d+)/)).toBe(Number(counts?.cancelled))
    expect(value(/switchboard_sms_sent_total\{kind="verification"\} (\d+)/)).toBeGreaterThan(0)
    expect(value(/switchboard_verification_checks_total\{result="verified"\} (\d+)/)).toBeGreaterThan(0)
    expect(value(/switchboard_dial_attempts_total\{outcome="answered"\} (\d+)/)).toBeGreaterThan(0)
    expect(value(/switchboard_circuit_state\{channel="voice"\} (\d+)/)).toBe(0)
    // verify to first dial: measured once per request whose first call was placed, never more
    const [firsts] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM call_attempts WHERE n = 1 AND call_sid IS NOT NULL")
    const measured = value(/switchboard_verify_to_first_dial_seconds_count (\d+)/)
    expect(measured).toBeGreaterThan(0)
    expect(measured).toBeLessThanOrEqual(Number(firsts?.n))
    expect(value(/switchboard_verify_to_first_dial_seconds_sum ([\d.e+-]+)/) / measured).toBeLessThan(30)
  })

  it("retry refuses a request that was never verified, and one whose visitor has another active request (409, nothing changes)", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "failed", { afterMs: 50 })
    const unverified = await app.create(business.id)
    expect((await app.request(`/admin/api/callbacks/${unverified.id}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    const refused = await app.request(`/admin/api/callbacks/${unverified.id}/retry`, { method: "POST", admin: true })
    expect(refused.status).toBe(409)
    expect(((await refused.json()) as Problem).detail).toContain("never verified")
    expect((await app.view(unverified.id)).status).toBe("cancelled")

    const failed = await app.verified(business.id)
    await app.waitForStatus(failed.id, "failed", 20_000)
    const newer = await app.create(business.id, failed.phone)
    const clash = await app.request(`/admin/api/callbacks/${failed.id}/retry`, { method: "POST", admin: true })
    expect(clash.status).toBe(409)
    expect(((await clash.json()) as Problem).detail).toContain("another active request")
    expect((await app.view(failed.id)).status).toBe("failed")
    expect((await app.view(newer.id)).status).toBe("pending_verification")
  })

  it("pages through callbacks created within one millisecond without skipping any", async () => {
    const business = await app.createBusiness()
    const created = [await app.create(business.id), await app.create(business.id), await app.create(business.id)]
    const times = ["2026-01-01T00:00:00.123456Z", "2026-01-01T00:00:00.123200Z", "2026-01-01T00:00:00.100000Z"]
    for (const [i, c] of created.entries()) await query(url, "UPDATE callback_requests SET created_at = $2 WHERE id = $1", [c.id, times[i]])
    const seen: Array<string> = []
    let cursor: string | undefined
    for (let page = 0; page < 5; page++) {
      const response = await app.request(`/admin/api/callbacks?businessId=${business.id}&limit=1${cursor === undefined ? "" : `&cursor=${cursor}`}`, { admin: true })
      expect(response.status).toBe(200)
      const body = (await response.json()) as { items: ReadonlyArray<{ id: string }>; nextCursor?: string }
      seen.push(...body.items.map((i) => i.id))
      if (body.nextCursor === undefined) break
      cursor = body.nextCursor
    }
    expect(seen).toEqual(created.map((c) => c.id))
  })

  it("the code is checked against the stored request whatever case the id is written in", async () => {
    const business = await app.createBusiness()
    const created = await app.create(business.id)
    // the first text goes out before the resend: a text whose code a resend replaced before it ran sends nothing
    await app.codeFor(created.phone)
    expect((await app.request(`/v1/callbacks/${created.id.toUpperCase()}/verification/resend`, { method: "POST" })).status).toBe(202)
    const code = await app.codeFor(created.phone, 2)
    const response = await app.verify(created.id.toUpperCase(), code)
    expect(response.status).toBe(200)
    expect(((await response.json()) as { id: string }).id).toBe(created.id)
  })

  it("an Idempotency-Key body nested thousands deep is a 202 (unknown fields are ignored), never a 500", async () => {
    const business = await app.createBusiness()
    const deep = "[".repeat(20_000) + "]".repeat(20_000)
    const response = await app.request("/v1/callbacks", {
      method: "POST",
      admin: true,
      headers: { "Idempotency-Key": crypto.randomUUID() },
      body: `{"businessId":"${business.id}","phone":"${freshNumber()}","x":${deep}}`
    })
    expect(response.status).toBe(202)
  })

  it("report.daily stores the day's summary", async () => {
    const today = new Date().toISOString().slice(0, 10)
    const enqueued = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "report.daily", args: { day: today } }) })
    expect(enqueued.status).toBe(201)
    const report = await eventually(async () => (await query<{ summary: Record<string, number> }>(url, "SELECT summary FROM daily_reports WHERE day = $1", [today]))[0], 10_000, "the report")
    const [counts] = await query<{ created: string; completed: string }>(
      url,
      `WITH day AS (SELECT $1::date::timestamp AT TIME ZONE 'UTC' AS start_at)
       SELECT count(*) FILTER (WHERE created_at >= start_at AND created_at < start_at + interval '1 day') AS created,
              count(*) FILTER (WHERE status = 'completed' AND finished_at >= start_at AND finished_at < start_at + interval '1 day') AS completed
         FROM callback_requests, day`,
      [today]
    )
    expect(report.summary.created).toBe(Number(counts?.created))
    expect(report.summary.completed).toBe(Number(counts?.completed))
  })
})

describe("the per-IP limit behind a proxy (TRUST_PROXY=1)", () => {
  let app: CallbackApp
  beforeAll(async () => {
    app = await startCallbackApp({ databaseUrl: await cloneDatabase(), env: { RATE_LIMIT_CREATE_PER_IP: "2/10m", TRUST_PROXY: "1" } })
  })
  afterAll(() => app.dispose())

  it("counts per forwarded client: the third from one client is 429, another client is still served", async () => {
    const business = await app.createBusiness()
    const from = (ip: string) => post(app, "/v1/callbacks", { businessId: business.id, phone: freshNumber() }, { "X-Forwarded-For": `203.0.113.9, ${ip}` })
    expect((await from("198.51.100.1")).status).toBe(202)
    expect((await from("198.51.100.1")).status).toBe(202)
    const limited = await from("198.51.100.1")
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    // the client's own claim (the left-most entry) is not trusted: only the proxy's hop counts
    expect((await from("198.51.100.2")).status).toBe(202)
  })
})
