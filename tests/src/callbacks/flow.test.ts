/**
 * Callbacks end to end: a business, a visitor's request over real HTTP, the
 * code read back from the simulator's sent texts, verification, and the
 * calls the real twilio SDK places with the simulator, whose signed status
 * callbacks drive each request to its end. Policies are shortened by config
 * (tests/support/callbacks.ts) so that retries take milliseconds.
 */
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Either from "effect/Either"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { isOpenAt, nextOpeningAt, parseHours, Weekdays } from "../../../domain/callbacks/OpeningHours.ts"
import { tracingWith } from "../../../infra/observability/Tracing.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { parseExposition, valueOf } from "../../support/prometheus.ts"

const TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736"

describe("callbacks end to end", () => {
  const exporter = new InMemorySpanExporter()
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    // the wait after a second unanswered attempt is longer, so a test can change a number's script in between
    app = await startCallbackApp({ databaseUrl: url, env: { CALLBACK_RETRY_DELAYS: "300ms,1500ms" }, tracing: tracingWith(new SimpleSpanProcessor(exporter)) })
  })
  afterAll(() => app.dispose())

  it("happy path: create, code by SMS, verify, dial, answered, bridged, completed; one trace links it all", async () => {
    const business = await app.createBusiness()
    const phone = freshNumber()
    const response = await app.request("/v1/callbacks", {
      method: "POST",
      admin: true,
      headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ businessId: business.id, phone, name: "Ada <Lovelace>" })
    })
    expect(response.status).toBe(202)
    const created = (await response.json()) as { id: string; status: string; verification: { channel: string; expiresAt: string } }
    expect(created.status).toBe("pending_verification")
    expect(created.verification.channel).toBe("sms")

    const code = await app.codeFor(phone)
    const verified = await app.verify(created.id, code)
    expect(verified.status).toBe(200)
    expect(((await verified.json()) as { status: string }).status).toBe("queued")

    const done = await app.waitForStatus(created.id, "completed")
    expect(done.attempts).toHaveLength(1)
    expect(done.attempts[0]).toMatchObject({ n: 1, to: business.phone, status: "completed" })
    const [call] = await app.callsTo(business.phone)
    expect(call?.status).toBe("completed")
    // the voice URL answered TwiML that announces the visitor (escaped) and bridges their number
    expect(call?.twiml).toContain(`<Number>${phone}</Number>`)
    expect(call?.twiml).toContain("Ada &lt;Lovelace&gt;")
    expect(call?.twimlError).toBeUndefined()
    expect(call?.said?.[0]).toBe("Callback request from Ada <Lovelace>.") // read back as Twilio reads it

    const spans = await eventually(async () => {
      const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID)
      return inTrace.some((s) => s.name === "twilio calls.create") && inTrace.some((s) => s.name === "job callback.dial") ? inTrace : undefined
    }, 10_000, "the dial job and the Twilio call in the request's trace")
    const names = new Set(spans.map((s: ReadableSpan) => s.name))
    for (const name of ["POST /v1/callbacks", "job verification.send", "twilio messages.create", "job callback.dial", "twilio calls.create"]) expect(names).toContain(name)
  })

  it("busy twice, then answered: completed on attempt 3 after the configured backoff", async () => {
    const business = await app.createBusiness()
    const created = await app.verified(business.id)
    await app.script(business.phone, "busy", { afterMs: 50 })
    // let two busy attempts happen, then the number answers
    await eventually(async () => ((await app.view(created.id)).attempts.filter((a) => a.status === "busy").length >= 2 ? true : undefined), 15_000, "two busy attempts")
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 100 })
    const done = await app.waitForStatus(created.id, "completed")
    expect(done.attempts.map((a) => a.status)).toEqual(["busy", "busy", "completed"])
    expect(done.attempts.every((a) => a.to === business.phone)).toBe(true)
    // each retry waited for its configured delay: 300 ms after the first busy attempt, 1.5 s after the second
    const starts = done.attempts.map((a) => Date.parse(a.startedAt))
    const ends = done.attempts.map((a) => Date.parse(a.endedAt ?? a.startedAt))
    expect(starts[1]! - ends[0]!).toBeGreaterThanOrEqual(280)
    expect(starts[1]! - ends[0]!).toBeLessThan(1_400)
    expect(starts[2]! - ends[1]!).toBeGreaterThanOrEqual(1_450)
  })

  it("primary no-answer three times: escalated to backup 1, which answers", async () => {
    const backup = freshNumber()
    const business = await app.createBusiness({ escalation: [{ phone: backup, ringSeconds: 10 }] })
    await app.script(business.phone, "no-answer", { afterMs: 50 })
    const created = await app.verified(business.id)
    const done = await app.waitForStatus(created.id, "completed")
    expect(done.escalationLevel).toBe(1)
    expect(done.attempts.map((a) => [a.to, a.status])).toEqual([
      [business.phone, "no-answer"],
      [business.phone, "no-answer"],
      [business.phone, "no-answer"],
      [backup, "completed"]
    ])
    const [escalations] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM jobs WHERE kind = 'callback.escalate' AND args->>'callbackId' = $1", [created.id])
    expect(Number(escalations?.n)).toBe(1)
    const metrics = await (await app.request("/metrics")).text()
    expect(Number(/switchboard_escalations_total\{level="1"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1)
    expect(Number(/switchboard_dial_attempts_total\{outcome="no-answer"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3)
  })

  it("everything fails: failed, exactly one SMS fallback, listed by the admin API; admin retry brings it back to queued", async () => {
    const backup = freshNumber()
    const business = await app.createBusiness({ escalation: [{ phone: backup, ringSeconds: 10 }] })
    await app.script(business.phone, "failed", { afterMs: 50 })
    await app.script(backup, "busy", { afterMs: 50 })
    const created = await app.verified(business.id)
    const failed = await app.waitForStatus(created.id, "failed")
    expect(failed.attempts).toHaveLength(6)
    const fallbacks = await eventually(async () => {
      const texts = (await app.messagesTo(created.phone)).filter((m) => m.body.includes("could not reach you"))
      return texts.length > 0 ? texts : undefined
    }, 10_000, "the SMS fallback")
    await new Promise((resolve) => setTimeout(resolve, 500)) // a second one would have been sent by now
    expect((await app.messagesTo(created.phone)).filter((m) => m.body.includes("could not reach you"))).toHaveLength(fallbacks.length)
    expect(fallbacks).toHaveLength(1)

    const list = (await (await app.request(`/admin/api/callbacks?status=failed&businessId=${business.id}`, { admin: true })).json()) as { items: ReadonlyArray<{ id: string }> }
    expect(list.items.map((i) => i.id)).toEqual([created.id])

    // the numbers answer again; the administrator retries
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 100 })
    const retried = await app.request(`/admin/api/callbacks/${created.id}/retry`, { method: "POST", admin: true })
    expect(retried.status).toBe(200)
    expect(((await retried.json()) as { status: string }).status).toBe("queued")
    const done = await app.waitForStatus(created.id, "completed")
    expect(done.escalationLevel).toBe(0)
    // retrying a completed request is a conflict
    expect((await app.request(`/admin/api/callbacks/${created.id}/retry`, { method: "POST", admin: true })).status).toBe(409)
  })

  it("closed hours: scheduledFor is the next opening, and no call is placed before it", async () => {
    // open one hour a week, three days from now: closed now, whatever the time of day
    const opening = new Date(Date.now() + 3 * 86_400_000)
    const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][opening.getUTCDay()]!
    const hh = String(opening.getUTCHours()).padStart(2, "0")
    const next = String((opening.getUTCHours() + 1) % 24).padStart(2, "0")
    const hours = { [day]: [[`${hh}:00`, next === "00" ? "24:00" : `${next}:00`]] }
    const business = await app.createBusiness({ timezone: "UTC", hours })
    const created = await app.create(business.id)
    const response = await app.verify(created.id, await app.codeFor(created.phone))
    const body = (await response.json()) as { status: string; scheduledFor: string }
    expect(body.status).toBe("queued")
    const expected = new Date(Date.UTC(opening.getUTCFullYear(), opening.getUTCMonth(), opening.getUTCDate(), opening.getUTCHours()))
    expect(body.scheduledFor).toBe(expected.toISOString())
    const [job] = await query<{ run_at: Date; state: string }>(url, "SELECT run_at, state FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = $1", [created.id])
    expect(job?.state).toBe("scheduled")
    expect(job?.run_at.toISOString()).toBe(expected.toISOString())
    expect(await app.callsTo(business.phone)).toHaveLength(0)
  })

  it("property: scheduledFor is now when open, else the next opening, for random time zones and weekly hours", async () => {
    const zones = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata", "America/Santiago", "Europe/London"]
    const time = fc.integer({ min: 0, max: 95 }).map((q) => `${String(Math.floor(q / 4)).padStart(2, "0")}:${String((q % 4) * 15).padStart(2, "0")}`)
    const interval = fc.tuple(time, time).filter(([a, b]) => a < b)
    const hoursArb = fc.dictionary(fc.constantFrom(...Weekdays), fc.array(interval, { minLength: 1, maxLength: 1 }), { minKeys: 1, maxKeys: 7 })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...zones), hoursArb, async (timezone, hours) => {
        const business = await app.createBusiness({ timezone, hours })
        const created = await app.create(business.id)
        const code = await app.codeFor(created.phone)
        const before = new Date()
        const response = await app.verify(created.id, code)
        const after = new Date()
        expect(response.status).toBe(200)
        const scheduledFor = Date.parse(((await response.json()) as { scheduledFor: string }).scheduledFor)
        const parsed = parseHours(hours)
        if (Either.isLeft(parsed)) throw new Error("the generator made invalid hours")
        const expectations = [before, after].map((t) =>
          isOpenAt(parsed.right, timezone, t) ? "open" : nextOpeningAt(parsed.right, timezone, t)?.getTime()
        )
        if (expectations.includes("open")) {
          // open at the moment of verification (or turning open right then): scheduled for now, or the opening in between
          expect(scheduledFor).toBeGreaterThanOrEqual(before.getTime() - 1)
          expect(scheduledFor).toBeLessThanOrEqual(Math.max(after.getTime(), ...expectations.filter((e): e is number => typeof e === "number")) + 1)
        } else {
          expect(expectations).toContain(scheduledFor)
        }
      }),
      { numRuns: 12 }
    )
  }, 60_000)
})

describe("concurrency and the per-destination limit", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url, env: { DIAL_LIMIT_PER_DESTINATION: "100/15m" } })
  })
  afterAll(() => app.dispose())

  it("maxConcurrentCalls=1 with 5 verified requests: never two calls at once to the business, and all 5 complete", async () => {
    const business = await app.createBusiness({ maxConcurrentCalls: 1 })
    await app.script(business.phone, "answered", { afterMs: 100, talkMs: 300 })
    const requests = await Promise.all(Array.from({ length: 5 }, () => app.verified(business.id)))
    for (const r of requests) await app.waitForStatus(r.id, "completed", 30_000)
    const stats = (await (await app.sim("/sim/stats")).json()) as { maxConcurrentCalls: Record<string, number> }
    expect(stats.maxConcurrentCalls[business.phone]).toBe(1)
    expect(await app.callsTo(business.phone)).toHaveLength(5)
  })

  it("a request waiting for the slot records no rate-limit event (no self-fill)", async () => {
    const business = await app.createBusiness({ maxConcurrentCalls: 1 })
    // the first call talks for a long time and holds the only slot
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 4_000 })
    const first = await app.verified(business.id)
    await app.waitForStatus(first.id, "connected")
    const second = await app.verified(business.id)
    // the second's dial job is waiting for the slot...
    await eventually(async () => {
      const [job] = await query<{ waiting_for_slot: boolean }>(url, "SELECT waiting_for_slot FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = $1", [second.id])
      return job?.waiting_for_slot === true ? true : undefined
    }, 10_000, "the second dial to wait for the slot")
    // ...and has spent nothing: one event (the first call's) for the business's number
    const events = async () => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM rate_events WHERE bucket = $1", [`dial:${business.phone}`]))[0]?.n)
    expect(await events()).toBe(1)
    expect((await app.view(second.id)).status).toBe("queued")
    await app.waitForStatus(second.id, "completed", 30_000)
    expect(await events()).toBe(2)
  })
})

describe("calls in progress hold their business's slot, not a runner", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    // two runners for every dial and watcher of the process
    app = await startCallbackApp({ databaseUrl: url, env: { QUEUES: "default:4,calls:2,sms:4,webhooks:4", DIAL_LIMIT_PER_DESTINATION: "100/15m" } })
  })
  afterAll(() => app.dispose())

  it("3 businesses with maxConcurrentCalls=4 and 5 requests each on 2 runners: 4 calls at once to each, never 5; all 15 complete and every slot is given back", async () => {
    const businesses = await Promise.all([1, 2, 3].map(() => app.createBusiness({ maxConcurrentCalls: 4 })))
    for (const business of businesses) await app.script(business.phone, "answered", { afterMs: 50, talkMs: 8_000 })
    const requests = await Promise.all(businesses.flatMap((business) => Array.from({ length: 5 }, () => app.verified(business.id))))
    // while 12 calls talk, each holds its business's slot by a lease, which the metric counts
    const talking = async () => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM call_attempts WHERE answered AND ended_at IS NULL"))[0]?.n)
    await eventually(async () => ((await talking()) === 12 ? true : undefined), 60_000, "12 calls in progress")
    const leased = valueOf(parseExposition(await (await app.request("/metrics")).text()), "switchboard_job_slot_leases")
    expect(await talking()).toBe(12)
    expect(leased).toBe(12)
    for (const r of requests) await app.waitForStatus(r.id, "completed", 90_000)
    const stats = (await (await app.sim("/sim/stats")).json()) as { maxConcurrentCalls: Record<string, number> }
    // 12 calls at once on 2 runners: a runner is free again once its call is placed
    expect(businesses.map((b) => stats.maxConcurrentCalls[b.phone])).toEqual([4, 4, 4])
    for (const business of businesses) expect(await app.callsTo(business.phone)).toHaveLength(5)
    const leases = await query<{ n: string }>(url, "SELECT count(*) AS n FROM job_slot_leases")
    expect(Number(leases[0]?.n)).toBe(0)
  }, 120_000)
})

describe("the per-destination limit when reached", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url, env: { DIAL_LIMIT_PER_DESTINATION: "2/3s" } })
  })
  afterAll(() => app.dispose())

  it("holds the third call to a number until the window frees, spends no attempt meanwhile, then completes all", async () => {
    const business = await app.createBusiness({ maxConcurrentCalls: 3 })
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    const requests = await Promise.all(Array.from({ length: 3 }, () => app.verified(business.id)))
    const done = await Promise.all(requests.map((r) => app.waitForStatus(r.id, "completed", 20_000)))
    expect(done.every((d) => d.attempts.length === 1)).toBe(true)
    const starts = done.map((d) => Date.parse(d.attempts[0]!.startedAt)).sort((a, b) => a - b)
    // two calls at once, the third once the first left the 3 s window
    expect(starts[2]! - starts[0]!).toBeGreaterThanOrEqual(2_900)
    const [limited] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM rate_events WHERE bucket = $1", [`dial:${business.phone}`])
    expect(Number(limited?.n)).toBe(3)
  })
})
