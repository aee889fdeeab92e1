/**
 * Departments, call flows and mid-call routing end to end: real HTTP, the real
 * twilio SDK against the simulator, which plays each call's TwiML (its menu,
 * the agent's scripted keys, hang-ups and bridges) as Twilio does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, query } from "../../support/database.ts"

interface HistoryItem {
  readonly type: string
  readonly status: string
  readonly data: Record<string, unknown>
}

const menuFlow = {
  announcement: { lines: ["Callback request from {name}.", "Topic: {topic}."] },
  menu: {
    prompt: { lines: ["Press 1 to take it, 2 to send it to billing, 3 to decline."] },
    choices: [
      { digit: "1", action: "accept" },
      { digit: "2", action: "route", department: "billing" },
      { digit: "3", action: "decline" }
    ],
    timeoutSeconds: 5,
    noInput: "accept"
  },
  bridge: { timeoutSeconds: 30, record: false }
}

describe("departments and mid-call routing", () => {
  let app: CallbackApp
  let databaseUrl: string
  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl, env: { CALLBACK_RETRY_DELAYS: "200ms" } })
  })
  afterAll(() => app.dispose())

  const admin = (path: string, method: string, body?: unknown) => app.request(path, { method, admin: true, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const calls = (phone: string) => app.callsTo(phone)
  const history = async (id: string) => ((await (await app.request(`/v1/callbacks/${id}/events`)).json()) as { items: ReadonlyArray<HistoryItem> }).items

  /** A business whose own line plays the menu, and a department `billing` with a backup. */
  const setUp = async () => {
    const business = await app.createBusiness({ maxConcurrentCalls: 1 })
    const billing = { phone: freshNumber(), backup: freshNumber() }
    const put = await admin(`/admin/api/businesses/${business.id}/departments/billing`, "PUT", {
      name: "Billing",
      phone: billing.phone,
      ringSeconds: 10,
      escalation: [{ phone: billing.backup, ringSeconds: 10 }],
      maxConcurrentCalls: 1
    })
    expect(put.status).toBe(201)
    const flow = await admin(`/admin/api/businesses/${business.id}/departments/main/flow`, "PUT", menuFlow)
    expect(flow.status).toBe(201)
    expect(((await flow.json()) as { version: number }).version).toBe(1)
    return { business, billing }
  }

  it("the agent presses 2: the visitor goes to billing's chain, busy there escalates within billing, the retry budget is whole and the history tells it in order", async () => {
    const { business, billing } = await setUp()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 5_000, digits: "2" })
    await app.script(billing.phone, "busy", { afterMs: 50 })
    await app.script(billing.backup, "answered", { afterMs: 50, talkMs: 100 })

    const created = await app.verified(business.id)
    const done = await app.waitForStatus(created.id, "completed", 30_000)

    // the business's own line: one call, the menu heard, key 2 pressed, hung up by the answer (not its 5 s of talk)
    const [agent] = await calls(business.phone)
    expect(agent?.gathered).toEqual(["2"])
    expect(agent?.said).toContain("Press 1 to take it, 2 to send it to billing, 3 to decline.")
    expect(agent?.said?.at(-1)).toBe("Transferring this request. Goodbye.")
    expect(agent?.dialed ?? []).toEqual([])
    // billing's own number: every attempt of the policy (3), none spent by the move; then its backup answered and bridged the visitor
    const levels = done.attempts.map((a) => [a.to, a.level, a.status])
    expect(levels).toEqual([
      [business.phone, 0, "completed"],
      [billing.phone, 0, "busy"],
      [billing.phone, 0, "busy"],
      [billing.phone, 0, "busy"],
      [billing.backup, 1, "completed"]
    ])
    const [bridged] = await calls(billing.backup)
    expect(bridged?.dialed).toEqual([created.phone])
    // billing's calls play billing's flow (the default): its announcement names the topic
    expect(bridged?.said).toContain("Topic: Billing.")

    const events = await history(created.id)
    const moves = events.filter((e) => e.type !== "call.status" && e.type !== "call.placed" && e.type !== "callback.code_sent").map((e) => e.type)
    expect(moves).toEqual([
      "callback.created",
      "callback.verified",
      "callback.dialing",
      "callback.connected",
      "callback.routed",
      "callback.dialing",
      "callback.retry_scheduled",
      "callback.dialing",
      "callback.retry_scheduled",
      "callback.dialing",
      "callback.escalated",
      "callback.dialing",
      "callback.connected",
      "callback.completed"
    ])
    const routed = events.find((e) => e.type === "callback.routed")
    expect(routed?.data).toMatchObject({ from: "main", to: "billing", by: "agent", routes: 1 })
    expect(routed?.status).toBe("escalated")

    const operatorView = (await (await admin(`/admin/api/callbacks/${created.id}`, "GET")).json()) as { department: string; routes: number }
    expect(operatorView).toMatchObject({ department: "billing", routes: 1 })
  })

  it("an operator moves a request during its call: the call is ended through Twilio and billing's chain is called", async () => {
    const { business, billing } = await setUp()
    // no keys: the menu's noInput accepts and the agent talks for a long time
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 60_000 })
    await app.script(billing.phone, "answered", { afterMs: 50, talkMs: 100 })
    const created = await app.verified(business.id)
    await app.waitForStatus(created.id, "connected", 20_000)

    const moved = await admin(`/admin/api/callbacks/${created.id}/route`, "POST", { department: "billing" })
    expect(moved.status).toBe(200)
    expect(await moved.json()).toMatchObject({ department: "billing", routes: 1 })

    const done = await app.waitForStatus(created.id, "completed", 30_000)
    expect(done.attempts.map((a) => [a.to, a.status])).toEqual([
      [business.phone, "completed"],
      [billing.phone, "completed"]
    ])
    // the first call was ended long before its 60 s of talk
    const [first] = await calls(business.phone)
    expect(first?.status).toBe("completed")

    // a request with no call in progress is not moved; nor to a department the business lacks
    const again = await admin(`/admin/api/callbacks/${created.id}/route`, "POST", { department: "main" })
    expect(again.status).toBe(409)
    const unknown = await admin(`/admin/api/callbacks/${created.id}/route`, "POST", { department: "Not A Key" })
    expect(unknown.status).toBe(400)
  })

  it("a visitor's topic puts the request with that department; an unknown topic is a 400 and creates nothing", async () => {
    const { business, billing } = await setUp()
    await app.script(billing.phone, "answered", { afterMs: 50, talkMs: 100 })
    const topics = await admin(`/v1/topics?businessId=${business.id}`, "GET")
    expect(await topics.json()).toEqual({ items: [{ key: "billing", name: "Billing" }] })
    expect((await admin("/v1/topics", "GET")).status).toBe(400)
    const phone = freshNumber()
    const refused = await admin("/v1/callbacks", "POST", { businessId: business.id, phone, topic: "sales" })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { errors: ReadonlyArray<{ path: string }> }).errors.map((e) => e.path)).toEqual(["/topic"])
    const response = await admin("/v1/callbacks", "POST", { businessId: business.id, phone, name: "Grace", topic: "billing" })
    expect(response.status).toBe(202)
    const { id } = (await response.json()) as { id: string }
    expect((await app.verify(id, await app.codeFor(phone))).status).toBe(200)
    const done = await app.waitForStatus(id, "completed", 20_000)
    expect(done.attempts.map((a) => a.to)).toEqual([billing.phone])
    expect(await calls(business.phone)).toEqual([])
  })

  it("flows are validated on save, each save is a new version, and a menu may only route to a department the business has", async () => {
    const { business } = await setUp()
    const base = `/admin/api/businesses/${business.id}/departments`
    const bad = await admin(`${base}/main/flow`, "PUT", { ...menuFlow, menu: { ...menuFlow.menu, choices: [{ digit: "2", action: "route", department: "sales" }] } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { errors: ReadonlyArray<{ path: string }> }).errors.map((e) => e.path)).toEqual(["/menu/choices/0/department"])
    const malformed = await admin(`${base}/main/flow`, "PUT", { announcement: { lines: [] }, bridge: { timeoutSeconds: 1, record: false } })
    expect(malformed.status).toBe(400)
    const second = await admin(`${base}/main/flow`, "PUT", { ...menuFlow, menu: undefined })
    expect(second.status).toBe(201)
    const versions = (await (await admin(`${base}/main/flow/versions`, "GET")).json()) as { items: ReadonlyArray<{ version: number; flow: { menu?: unknown } }> }
    expect(versions.items.map((v) => v.version)).toEqual([2, 1])
    expect(versions.items[0]?.flow.menu).toBeUndefined()
    expect(versions.items[1]?.flow.menu).toBeDefined()
    const current = (await (await admin(`${base}/billing/flow`, "GET")).json()) as { version: number }
    expect(current.version).toBe(0)
    expect((await admin(`${base}/nope/flow`, "GET")).status).toBe(404)
    expect((await admin(`${base}/main`, "PUT", { name: "Main", phone: business.phone })).status).toBe(400)
  })

  it("a department with a request in progress is not removed", async () => {
    const { business, billing } = await setUp()
    await app.script(billing.phone, "answered", { afterMs: 50, talkMs: 2_000 })
    const phone = freshNumber()
    const response = await admin("/v1/callbacks", "POST", { businessId: business.id, phone, topic: "billing" })
    const { id } = (await response.json()) as { id: string }
    expect((await app.verify(id, await app.codeFor(phone))).status).toBe(200)
    await app.waitForStatus(id, "connected", 20_000)
    const refused = await admin(`/admin/api/businesses/${business.id}/departments/billing`, "DELETE")
    expect(refused.status).toBe(409)
    expect((await admin(`/admin/api/businesses/${business.id}/departments/billing`, "GET")).status).toBe(200)
    await app.waitForStatus(id, "completed", 20_000)
    expect((await admin(`/admin/api/businesses/${business.id}/departments/billing`, "DELETE")).status).toBe(204)
    expect((await admin(`/admin/api/businesses/${business.id}/departments/billing`, "GET")).status).toBe(404)
  })

  it("after hours: a request verified while closed is called on the after-hours chain at once; a closed department without one waits for its opening", async () => {
    // open only for a quarter of an hour three days from now: closed now
    const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][(new Date().getUTCDay() + 3) % 7] ?? "sun"
    const closed = { [day]: [["03:00", "03:15"]] }
    const onCall = freshNumber()
    const business = await app.createBusiness({ hours: closed, afterHours: [{ phone: onCall, ringSeconds: 15 }] })
    await app.script(onCall, "answered", { afterMs: 50, talkMs: 100 })
    const created = await app.verified(business.id)
    const done = await app.waitForStatus(created.id, "completed", 20_000)
    expect(done.attempts.map((a) => a.to)).toEqual([onCall])
    expect(await calls(business.phone)).toEqual([])
    const verified = (await history(created.id)).find((e) => e.type === "callback.verified")
    expect(verified?.data).toMatchObject({ afterHours: true })

    // a department with the same hours and no chain: the request waits for the opening, nothing is called
    const sales = freshNumber()
    expect((await admin(`/admin/api/businesses/${business.id}/departments/sales`, "PUT", { name: "Sales", phone: sales, hours: closed })).status).toBe(201)
    const phone = freshNumber()
    const { id } = (await (await admin("/v1/callbacks", "POST", { businessId: business.id, phone, topic: "sales" })).json()) as { id: string }
    const answer = await app.verify(id, await app.codeFor(phone))
    const { scheduledFor } = (await answer.json()) as { scheduledFor: string }
    expect(Date.parse(scheduledFor)).toBeGreaterThan(Date.now() + 24 * 3600_000)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect((await app.view(id)).status).toBe("queued")
    expect(await calls(sales)).toEqual([])
    expect(await calls(onCall)).toHaveLength(1)
  })

  it("a visitor's window: the first call falls inside it while open; a window that never meets the hours is a 422 with the next windows", async () => {
    // open 10:00-11:00 UTC two days from now only (and on that weekday every week)
    const inDays = (n: number, time: string) => {
      const d = new Date()
      d.setUTCDate(d.getUTCDate() + n)
      return `${d.toISOString().slice(0, 10)}T${time}:00.000Z`
    }
    const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][(new Date().getUTCDay() + 2) % 7] ?? "sun"
    const business = await app.createBusiness({ hours: { [day]: [["10:00", "11:00"]] } })
    const availability = (await (await admin(`/v1/availability?businessId=${business.id}`, "GET")).json()) as { timezone: string; windows: ReadonlyArray<{ start: string; end: string }> }
    expect(availability.timezone).toBe("UTC")
    expect(availability.windows[0]).toEqual({ start: inDays(2, "10:00"), end: inDays(2, "11:00") })
    expect(availability.windows[1]).toEqual({ start: inDays(9, "10:00"), end: inDays(9, "11:00") })

    // the day before, all morning: closed throughout
    const never = await admin("/v1/callbacks", "POST", { businessId: business.id, phone: freshNumber(), window: { start: inDays(1, "08:00"), end: inDays(1, "12:00") } })
    expect(never.status).toBe(422)
    const problem = (await never.json()) as { type: string; nextWindows: ReadonlyArray<{ start: string }> }
    expect(problem.type).toBe("/problems/window-unavailable")
    expect(problem.nextWindows[0]?.start).toBe(inDays(2, "10:00"))
    const passed = await admin("/v1/callbacks", "POST", { businessId: business.id, phone: freshNumber(), window: { start: inDays(-1, "10:00"), end: inDays(-1, "11:00") } })
    expect(passed.status).toBe(422)
    const backwards = await admin("/v1/callbacks", "POST", { businessId: business.id, phone: freshNumber(), window: { start: inDays(2, "11:00"), end: inDays(2, "10:00") } })
    expect(backwards.status).toBe(400)
    const [created] = await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM callback_requests WHERE business_id = $1", [business.id])
    expect(Number(created?.n)).toBe(0)

    // half an hour before the opening to half an hour into it: called at the opening
    const phone = freshNumber()
    const response = await admin("/v1/callbacks", "POST", { businessId: business.id, phone, window: { start: inDays(2, "09:30"), end: inDays(2, "10:30") } })
    expect(response.status).toBe(202)
    const { id } = (await response.json()) as { id: string }
    const verified = await app.verify(id, await app.codeFor(phone))
    expect(verified.status).toBe(200)
    expect(((await verified.json()) as { scheduledFor: string }).scheduledFor).toBe(inDays(2, "10:00"))
    const operatorView = (await (await admin(`/admin/api/callbacks/${id}`, "GET")).json()) as { window: { start: string; end: string }; status: string }
    expect(operatorView).toMatchObject({ status: "queued", window: { start: inDays(2, "09:30"), end: inDays(2, "10:30") } })
    expect(await calls(business.phone)).toEqual([])
  })

  it("a department's phones are read in the business's country and stored in E.164; one that is not a number is refused at its path", async () => {
    const business = await app.createBusiness({ country: "US" })
    const base = `/admin/api/businesses/${business.id}/departments/support`
    const refused = await admin(base, "PUT", { name: "Support", phone: "not a phone", escalation: [{ phone: "(415) 555-0211" }, { phone: "12" }] })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { errors: ReadonlyArray<{ path: string }> }).errors.map((e) => e.path)).toEqual(["/phone", "/escalation/1/phone"])
    expect((await admin(base, "GET")).status).toBe(404)
    const saved = await admin(base, "PUT", { name: "Support", phone: "(415) 555-0210", afterHours: [{ phone: "415 555 0212", ringSeconds: 40 }] })
    expect(saved.status).toBe(201)
    expect(await saved.json()).toMatchObject({ phone: "+14155550210", afterHours: [{ phone: "+14155550212", ringSeconds: 40 }], escalation: [], maxConcurrentCalls: 1 })
    const replaced = await admin(base, "PUT", { name: "Support desk", phone: "+14155550210" })
    expect(replaced.status).toBe(200)
    expect(await replaced.json()).toMatchObject({ name: "Support desk", afterHours: [] })
  })

  it("the agent declines: the request goes on as if unanswered (its retries, then the backup); no key with noInput decline does the same, to the end", async () => {
    const backup = freshNumber()
    const business = await app.createBusiness({ escalation: [{ phone: backup, ringSeconds: 10 }] })
    const flow = (noInput: "accept" | "decline") => ({
      ...menuFlow,
      menu: { ...menuFlow.menu, choices: [{ digit: "1", action: "accept" }, { digit: "3", action: "decline" }], noInput }
    })
    expect((await admin(`/admin/api/businesses/${business.id}/departments/main/flow`, "PUT", flow("accept"))).status).toBe(201)
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 5_000, digits: "3" })
    await app.script(backup, "answered", { afterMs: 50, talkMs: 100 })
    const created = await app.verified(business.id)
    const done = await app.waitForStatus(created.id, "completed", 30_000)
    // every call to the business's own number was answered and declined: its 3 attempts, then the backup (no key: noInput accept)
    expect(done.attempts.map((a) => [a.to, a.level])).toEqual([
      [business.phone, 0],
      [business.phone, 0],
      [business.phone, 0],
      [backup, 1]
    ])
    const [bridged] = await calls(backup)
    expect(bridged?.dialed).toEqual([created.phone])
    expect((await calls(business.phone)).every((c) => (c.dialed ?? []).length === 0 && c.said?.at(-1) === "Goodbye.")).toBe(true)
    const moves = (await history(created.id)).filter((e) => e.data["declined"] === true).map((e) => e.type)
    expect(moves).toEqual(["callback.retry_scheduled", "callback.retry_scheduled", "callback.escalated"])

    // no key and noInput decline, no backup: every attempt declined, then failed with the SMS fallback
    const alone = await app.createBusiness()
    expect((await admin(`/admin/api/businesses/${alone.id}/departments/main/flow`, "PUT", flow("decline"))).status).toBe(201)
    await app.script(alone.phone, "answered", { afterMs: 50, talkMs: 5_000 })
    const second = await app.verified(alone.id)
    const failed = await app.waitForStatus(second.id, "failed", 30_000)
    expect(failed.attempts).toHaveLength(3)
    const events = await history(second.id)
    expect(events.find((e) => e.type === "callback.failed")?.data).toMatchObject({ declined: true })
    expect(events.some((e) => e.type === "callback.completed")).toBe(false)
  })
})
