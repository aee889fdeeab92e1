/**
 * Budgets through the whole application (docs/callbacks.md "Budgets and
 * lockout"). At the API: past a business's or the account's cap on texts a
 * create (and a resend) is a 429 `rate-limited` with `Retry-After` that
 * creates nothing, counts in `switchboard_budget_exhausted_total` and records
 * one `budget.exhausted` operational event per episode; past the call cap, a
 * right code is refused and still works once the window frees. At job time: a
 * dial (an escalation) or a fallback text that finds its budget spent snoozes
 * without spending an attempt, its request's history says so once however
 * often it snoozes, and the call or text goes out when the window frees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

interface Problem {
  readonly type: string
  readonly status: number
  readonly detail: string
  readonly reason?: string
  readonly scope?: string
  readonly channel?: string
  readonly retryAfterSeconds?: number
}

interface HistoryItem {
  readonly type: string
  readonly status: string
  readonly data: Record<string, unknown>
}

const post = (app: CallbackApp, path: string, body: unknown) => app.request(path, { method: "POST", admin: true, body: JSON.stringify(body) })

const metric = async (app: CallbackApp, labels: string, name = "switchboard_budget_exhausted_total") => {
  const text = await (await app.request("/metrics")).text()
  const escaped = labels.replace(/[{}"]/g, (c) => `\\${c}`)
  return Number(new RegExp(`^${name}${escaped} (\\d+)$`, "m").exec(text)?.[1] ?? 0)
}

const eventsOf = async (app: CallbackApp, id: string): Promise<ReadonlyArray<HistoryItem>> => {
  const { data, response } = await app.client.GET("/v1/callbacks/{id}/events", { params: { path: { id } } })
  if (data === undefined) throw new Error(`events of ${id}: ${response.status}`)
  return data.items as ReadonlyArray<HistoryItem>
}

describe("budgets at the API", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({
      databaseUrl: url,
      env: { BUDGET_SMS_PER_BUSINESS: "3/1h", BUDGET_SMS_ACCOUNT: "6/1h", BUDGET_CALLS_PER_BUSINESS: "1/3s", BUDGET_CALLS_ACCOUNT: "off" }
    })
  })
  afterAll(() => app.dispose())

  const refusal = async (response: Response) => {
    expect(response.status).toBe(429)
    const retryAfter = Number(response.headers.get("retry-after"))
    const problem = (await response.json()) as Problem
    expect(problem.type).toBe("/problems/rate-limited")
    expect(problem.retryAfterSeconds).toBe(retryAfter)
    return { retryAfter, problem }
  }

  it("the first call counts at verify: past the call cap the right code is a 429, and works once the window frees", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    await app.verified(business.id)
    const second = await app.create(business.id)
    const code = await app.codeFor(second.phone)
    const { retryAfter, problem } = await refusal(await app.verify(second.id, code))
    expect(problem).toMatchObject({ reason: "budget", scope: "business", channel: "call" })
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(3)
    // rolled back: still waiting for its code, which was not used up
    expect((await app.view(second.id)).status).toBe("pending_verification")
    const verified = await eventually(async () => {
      const response = await app.verify(second.id, code)
      return response.status === 200 ? response : undefined
    }, 6_000, "the call budget to free")
    expect(verified.status).toBe(200)
    expect(await metric(app, '{scope="business",channel="call"}')).toBeGreaterThanOrEqual(1)
  })

  it("per business: past 3 texts in the hour a create or a resend is 429 with Retry-After, creates nothing, and is counted and recorded once", async () => {
    const business = await app.createBusiness()
    const accepted = [await app.create(business.id), await app.create(business.id), await app.create(business.id)]
    const before = await metric(app, '{scope="business",channel="sms"}')
    const first = await refusal(await post(app, "/v1/callbacks", { businessId: business.id, phone: freshNumber() }))
    expect(first.problem).toMatchObject({ reason: "budget", scope: "business", channel: "sms" })
    expect(first.problem.detail).not.toMatch(/\d+ per/)
    expect(first.retryAfter).toBeGreaterThan(3500)
    expect(first.retryAfter).toBeLessThanOrEqual(3600)
    await refusal(await post(app, "/v1/callbacks", { businessId: business.id, phone: freshNumber() }))
    // a resend texts a code too
    const resend = await refusal(await post(app, `/v1/callbacks/${accepted[0]?.id}/verification/resend`, {}))
    expect(resend.problem).toMatchObject({ reason: "budget", scope: "business", channel: "sms" })
    const [row] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM callback_requests WHERE business_id = $1", [business.id])
    expect(Number(row?.n)).toBe(3)
    expect(await metric(app, '{scope="business",channel="sms"}')).toBe(before + 3)
    const events = await query<{ subject: string; data: Record<string, unknown> }>(
      url,
      "SELECT subject, data FROM operational_events WHERE type = 'budget.exhausted' AND business_id = $1",
      [business.id]
    )
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ subject: business.id, data: { channel: "sms", scope: "business", limit: 3, window: "1h", during: "create" } })
    // the operators' stream carries it, once no transaction older than its own is still running (the log's read
    // horizon, HistoryStore.everythingAfter: a text's job may be mid-transaction right now)
    const logged = await eventually(async () => {
      const { data } = await app.adminClient.GET("/admin/api/event-log", { params: { query: { businessId: business.id } } })
      const text = JSON.stringify(data)
      return text.includes("budget.exhausted") ? text : undefined
    }, 10_000, "the budget event in the event log")
    expect(logged).toContain("budget.exhausted")
  })

  it("account-wide: once every business together sent 6 texts, any business is refused with scope account", async () => {
    const other = await app.createBusiness()
    // 2 texts above (the call test) + 3 (the business test): one left for the account
    await app.create(other.id)
    const { problem } = await refusal(await post(app, "/v1/callbacks", { businessId: other.id, phone: freshNumber() }))
    expect(problem).toMatchObject({ reason: "budget", scope: "account", channel: "sms" })
    const fresh = await app.createBusiness()
    expect((await refusal(await post(app, "/v1/callbacks", { businessId: fresh.id, phone: freshNumber() }))).problem.scope).toBe("account")
    const events = await query(url, "SELECT 1 FROM operational_events WHERE type = 'budget.exhausted' AND subject = 'account'")
    expect(events).toHaveLength(1)
    expect(await metric(app, '{scope="account",channel="sms"}')).toBe(2)
  })
})

describe("budgets at job time", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({
      databaseUrl: url,
      env: { BUDGET_CALLS_PER_BUSINESS: "1/3s", BUDGET_SMS_PER_BUSINESS: "1/3s", CALLBACK_ATTEMPTS_PER_NUMBER: "1" }
    })
  })
  afterAll(() => app.dispose())

  it("an escalation over the call budget snoozes (no attempt spent), tells the history once however often it waits, and calls when the window frees", async () => {
    const backup = freshNumber()
    const business = await app.createBusiness({ escalation: [{ phone: backup, ringSeconds: 10 }] })
    await app.script(business.phone, "busy", { afterMs: 50 })
    await app.script(backup, "answered", { afterMs: 50, talkMs: 50 })
    const deferredBefore = await metric(app, '{scope="business",channel="call"}')
    const snoozedBefore = await metric(app, '{queue="calls",reason="budget"}', "switchboard_job_snoozes_total")
    const verifiedAt = Date.now()
    const request = await app.verified(business.id)
    // the first call (counted at verify) was busy; the escalation's call finds the 1-per-3s budget spent
    const waiting = await eventually(async () => {
      const events = await eventsOf(app, request.id)
      return events.find((e) => e.type === "callback.budget_exhausted")
    }, 10_000, "the history to say the call waits for the budget")
    expect(waiting).toMatchObject({ status: "escalated", data: { channel: "call", scope: "business" } })
    const retryAt = new Date(String(waiting.data["retryAt"])).getTime()
    expect(retryAt).toBeGreaterThan(verifiedAt + 2_000)
    expect(retryAt).toBeLessThan(Date.now() + 3_500)
    // someone else takes the budget meanwhile: when the dial wakes up, it must wait again (same episode)
    await query(url, "SELECT budget_take(ARRAY[$1], ARRAY[1000], ARRAY[3]::float8[], NULL)", [`budget:call:business:${business.id}:3000`])
    expect((await app.callsTo(backup)).length).toBe(0)
    await app.waitForStatus(request.id, "completed", 20_000)
    const calls = await app.callsTo(backup)
    expect(calls).toHaveLength(1)
    expect(new Date(calls[0]?.createdAt ?? 0).getTime()).toBeGreaterThanOrEqual(retryAt - 100)
    const events = await eventsOf(app, request.id)
    expect(events.filter((e) => e.type === "callback.budget_exhausted")).toHaveLength(1)
    expect(events.map((e) => e.type).indexOf("callback.budget_exhausted")).toBeLessThan(events.map((e) => e.type).lastIndexOf("callback.dialing"))
    expect(await metric(app, '{scope="business",channel="call"}')).toBeGreaterThanOrEqual(deferredBefore + 2)
    // each wait was a snooze of the dial job, counted as the budget's
    expect(await metric(app, '{queue="calls",reason="budget"}', "switchboard_job_snoozes_total")).toBeGreaterThanOrEqual(snoozedBefore + 2)
    const jobs = await query<{ attempt: number; state: string }>(url, "SELECT attempt, state FROM jobs WHERE kind = 'callback.dial' AND args ->> 'callbackId' = $1", [request.id])
    expect(jobs.map((j) => j.state).sort()).toEqual(["completed", "completed"])
    for (const job of jobs) expect(job.attempt).toBe(1)
  })

  it("a fallback text over the text budget waits for the window, once in the history, then is sent", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "busy", { afterMs: 50 })
    const request = await app.verified(business.id)
    await app.waitForStatus(request.id, "failed", 10_000)
    const fallback = await eventually(async () => {
      const texts = await app.messagesTo(request.phone)
      return texts.find((m) => /could not reach you/.test(m.body))
    }, 10_000, "the fallback text")
    // the code's text counted at the create (in its transaction, so from the request's creation, not from when
    // its job sent it, which may lag under load); the fallback waited until that count left the 3-second window
    const { createdAt } = await app.view(request.id)
    expect(new Date(fallback.createdAt).getTime() - new Date(createdAt).getTime()).toBeGreaterThanOrEqual(2_900)
    const events = await eventually(async () => {
      const all = await eventsOf(app, request.id)
      return all.some((e) => e.type === "sms.sent") ? all : undefined
    }, 5_000, "the fallback in the history")
    const waits = events.filter((e) => e.type === "callback.budget_exhausted")
    expect(waits).toHaveLength(1)
    expect(waits[0]).toMatchObject({ status: "failed", data: { channel: "sms", scope: "business" } })
    expect(await metric(app, '{scope="business",channel="sms"}')).toBeGreaterThanOrEqual(1)
  })
})
