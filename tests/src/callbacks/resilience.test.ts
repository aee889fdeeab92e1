/**
 * Callbacks when Twilio misbehaves, and verification under abuse.
 *
 * - The simulator answers 503 to every create: the voice circuit opens after
 *   CIRCUIT_FAILURE_THRESHOLD failures, the traffic reaching "Twilio" stays
 *   bounded, no call attempt is spent, each visitor gets one notice, and every
 *   request completes once the simulator recovers.
 * - A create that rang but answered 500 (the ambiguous case) is reconciled
 *   from the call's own status reports: one call, never re-POSTed.
 * - Verification: five wrong codes, then even the right one is 410; an
 *   expired code is 410; a code works once; codes never reach logs or spans.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { tracingWith } from "../../../infra/observability/Tracing.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

describe("the voice circuit during a Twilio outage", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    // a short TWILIO_TIMEOUT keeps the window an ambiguous create's call may appear in short: "never placed" waits for it to close
    app = await startCallbackApp({ databaseUrl: url, env: { CIRCUIT_FAILURE_THRESHOLD: "3", CIRCUIT_OPEN_FOR: "1s", CALL_STATUS_TIMEOUT: "1s", TWILIO_TIMEOUT: "2s" } })
  })
  afterAll(() => app.dispose())

  it("opens after 3 failures, bounds the traffic, spends no attempt, and completes everything after recovery", async () => {
    const business = await app.createBusiness({ maxConcurrentCalls: 5 })
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    const requests = await Promise.all(Array.from({ length: 5 }, () => app.verified(business.id)))
    const stats = async () => ((await (await app.sim("/sim/stats")).json()) as { calls: number; requests: { calls: number } })
    // requests' codes were texted before the outage: only calls fail from here
    const before = (await stats()).requests.calls
    expect((await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ calls: { status: 503 } }) })).status).toBe(200)
    // (the verified requests' first dials may already have gone through; the ones that follow meet the outage)
    const more = await Promise.all(Array.from({ length: 5 }, () => app.verified(business.id)))
    await eventually(async () => {
      const metrics = await (await app.request("/metrics")).text()
      return /switchboard_circuit_state\{channel="voice"\} 2/.test(metrics) ? true : undefined
    }, 15_000, "the voice circuit to open")
    const outageStart = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const during = (await stats()).requests.calls - before
    // 3 failures open it; then one probe per second at most (3 s here), with a little slack
    expect(during).toBeLessThanOrEqual(3 + Math.ceil((Date.now() - outageStart) / 1000) + 3)
    // no call attempt was spent on the refused creates: none ended unanswered (a refused one is taken back;
    // one may be between its row and its take-back right now, which is why this counts ended attempts)
    const [spent] = await query<{ n: string }>(
      url,
      "SELECT count(*) AS n FROM call_attempts a JOIN callback_requests r ON r.id = a.callback_id WHERE r.business_id = $1 AND a.status IN ('busy', 'no-answer', 'failed', 'canceled')",
      [business.id]
    )
    expect(Number(spent?.n)).toBe(0)

    await app.sim("/sim/faults", { method: "DELETE" })
    for (const r of [...requests, ...more]) {
      const done = await app.waitForStatus(r.id, "completed", 30_000)
      expect(done.attempts).toHaveLength(1)
    }
    // visitors whose dial met the open circuit got exactly one notice each
    for (const r of more) {
      const notices = (await app.messagesTo(r.phone)).filter((m) => m.body.includes("Calls are delayed"))
      expect(notices.length).toBeLessThanOrEqual(1)
    }
    const metrics = await (await app.request("/metrics")).text()
    const refused = Number(/switchboard_twilio_requests_total\{op="calls.create",outcome="retryable"\} (\d+)/.exec(metrics)?.[1])
    expect(refused).toBeGreaterThanOrEqual(3)
    // every refused create reached the simulator after the fault was set: none was counted twice or invented
    expect(refused).toBeLessThanOrEqual((await stats()).requests.calls - before)
    // every create that was sent was timed; the ones the open circuit refused were not sent
    const sent = [...metrics.matchAll(/switchboard_twilio_requests_total\{op="calls.create",outcome="(\w+)"\} (\d+)/g)].filter(([, outcome]) => outcome !== "circuit_open")
    const timed = Number(/switchboard_twilio_request_duration_seconds_count\{op="calls.create"\} (\d+)/.exec(metrics)?.[1])
    expect(timed).toBe(sent.reduce((n, [, , value]) => n + Number(value), 0))
  })

  it("an ambiguous create (the call rang, the API answered 500) is reconciled: one call, completed", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 200, talkMs: 100 })
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ createThenFail: true, calls: { status: 500, count: 1 } }) })
    const created = await app.verified(business.id)
    const done = await app.waitForStatus(created.id, "completed", 20_000)
    await app.sim("/sim/faults", { method: "DELETE" })
    expect(done.attempts).toHaveLength(1)
    expect(await app.callsTo(business.phone)).toHaveLength(1)
  })

  it("an ambiguous create that placed no call (500 before creating) is found missing by reconciliation and dialed again: one call", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ calls: { status: 500, count: 1 } }) })
    const created = await app.verified(business.id)
    // "never placed" is decided only once the create's window (TWILIO_TIMEOUT plus the clock margin) has closed
    const done = await app.waitForStatus(created.id, "completed", 30_000)
    expect(done.attempts).toHaveLength(1)
    expect(await app.callsTo(business.phone)).toHaveLength(1)
    const metrics = await (await app.request("/metrics")).text()
    expect(metrics).toMatch(/switchboard_twilio_requests_total\{op="calls.list",outcome="ok"\} [1-9]/)
    expect(metrics).toMatch(/switchboard_dial_attempts_total\{outcome="not_placed"\} [1-9]/)
  })
})

describe("verification", () => {
  const exporter = new InMemorySpanExporter()
  const logged: Array<string> = []
  let app: CallbackApp
  let business: { id: string }
  let url: string
  const write = process.stdout.write.bind(process.stdout)
  beforeAll(async () => {
    url = await cloneDatabase()
    // every log line the app writes is captured (JSON lines on stdout)
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: Array<unknown>) => {
      logged.push(String(chunk))
      return (write as (...args: Array<unknown>) => boolean)(chunk, ...rest)
    }) as typeof process.stdout.write
    app = await startCallbackApp({ databaseUrl: url, env: { LOG_LEVEL: "debug" }, tracing: tracingWith(new SimpleSpanProcessor(exporter)) })
    business = await app.createBusiness()
  })
  afterAll(async () => {
    process.stdout.write = write
    await app.dispose()
  })

  const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0")

  it("five wrong codes: 400 with attemptsRemaining 4..0, then even the right code is 410", async () => {
    const created = await app.create(business.id)
    const code = await app.codeFor(created.phone)
    for (const remaining of [4, 3, 2, 1, 0]) {
      const response = await app.verify(created.id, wrongCode(code))
      expect(response.status).toBe(400)
      const body = (await response.json()) as { type: string; attemptsRemaining: number }
      expect(body).toMatchObject({ type: "/problems/wrong-code", attemptsRemaining: remaining })
    }
    expect((await app.verify(created.id, code)).status).toBe(410)
    expect((await app.view(created.id)).status).toBe("pending_verification")
    // a new code brings the checks back
    expect((await app.request(`/v1/callbacks/${created.id}/verification/resend`, { method: "POST" })).status).toBe(202)
    const fresh = await app.codeFor(created.phone, 2)
    expect((await app.verify(created.id, fresh)).status).toBe(200)
  })

  it("a code works once; a second verify is 409", async () => {
    const created = await app.create(business.id)
    const code = await app.codeFor(created.phone)
    expect((await app.verify(created.id, code)).status).toBe(200)
    expect((await app.verify(created.id, code)).status).toBe(409)
  })

  it("a code's text sent again (its job run again) carries the same code, and the first still works; a resend draws a new one", async () => {
    const created = await app.create(business.id)
    const codes = async () => (await app.messagesTo(created.phone)).map((m) => /code is (\d{6})/.exec(m.body)?.[1])
    const first = await app.codeFor(created.phone)
    // the send job runs once more, as it does when rescued from a process presumed dead or retried after an ambiguous answer
    const sendJob = `SELECT id FROM jobs WHERE kind = 'verification.send' AND args->>'callbackId' = $1 AND state = 'completed'`
    const [job] = await eventually(async () => {
      const rows = await query<{ id: string }>(url, sendJob, [created.id])
      return rows.length === 1 ? rows : undefined
    }, 10_000, "the send job to complete")
    await query(url, "UPDATE jobs SET state = 'available', run_at = now() WHERE id = $1", [job?.id])
    await app.codeFor(created.phone, 2)
    expect(await codes()).toEqual([first, first])
    // a resend is a new issue of the code: a new one, and only it works
    expect((await app.request(`/v1/callbacks/${created.id}/verification/resend`, { method: "POST" })).status).toBe(202)
    const fresh = await app.codeFor(created.phone, 3)
    expect(fresh).not.toBe(first)
    expect((await app.verify(created.id, first)).status).toBe(400)
    expect((await app.verify(created.id, fresh)).status).toBe(200)
  })

  it("a text whose issue a resend replaced sends nothing; a job that names no issue (enqueued by an older version) texts the code in force", async () => {
    const created = await app.create(business.id)
    // oldest first
    const codes = async () => (await app.messagesTo(created.phone)).map((m) => /code is (\d{6})/.exec(m.body)?.[1]).reverse()
    const first = await app.codeFor(created.phone)
    expect((await app.request(`/v1/callbacks/${created.id}/verification/resend`, { method: "POST" })).status).toBe(202)
    const fresh = await app.codeFor(created.phone, 2)
    const jobs = await eventually(async () => {
      const rows = await query<{ id: string; finished_at: Date }>(url, "SELECT id, finished_at FROM jobs WHERE kind = 'verification.send' AND args->>'callbackId' = $1 AND state = 'completed' ORDER BY id", [created.id])
      return rows.length === 2 ? rows : undefined
    }, 10_000, "both send jobs to complete")
    /** Runs a completed send job once more, its arguments changed by `args` (SQL over `args`); waits until it has finished again. */
    const runAgain = async (job: { id: string; finished_at: Date }, args: string) => {
      await query(url, `UPDATE jobs SET args = ${args}, state = 'available', run_at = now() WHERE id = $1`, [job.id])
      await eventually(async () => {
        const [row] = await query<{ finished_at: Date | null }>(url, "SELECT finished_at FROM jobs WHERE id = $1 AND state = 'completed'", [job.id])
        return row?.finished_at !== null && row !== undefined && row.finished_at.getTime() > job.finished_at.getTime() ? true : undefined
      }, 10_000, "the send job to finish again")
    }
    // the create's job, run again after the resend: its issue is no longer in force, so no text and no message row
    await runAgain(jobs[0]!, "args")
    expect(await codes()).toEqual([first, fresh])
    const [rows] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM sms_messages WHERE callback_id = $1", [created.id])
    expect(Number(rows?.n)).toBe(2)
    // the resend's job as an older version enqueued it, without `issuedAt`: it texts the code in force
    await runAgain(jobs[1]!, "args - 'issuedAt'")
    await app.codeFor(created.phone, 3)
    expect(await codes()).toEqual([first, fresh, fresh])
    expect((await app.verify(created.id, fresh)).status).toBe(200)
  })

  it("at most 3 sends per 10 minutes: the third resend is 429 with Retry-After", async () => {
    const created = await app.create(business.id)
    expect((await app.request(`/v1/callbacks/${created.id}/verification/resend`, { method: "POST" })).status).toBe(202)
    expect((await app.request(`/v1/callbacks/${created.id}/verification/resend`, { method: "POST" })).status).toBe(202)
    const refused = await app.request(`/v1/callbacks/${created.id}/verification/resend`, { method: "POST" })
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
  })

  it("codes never appear in logs or spans", async () => {
    const created = await app.create(business.id)
    const code = await app.codeFor(created.phone)
    await app.verify(created.id, wrongCode(code))
    expect((await app.verify(created.id, code)).status).toBe(200)
    await app.waitForStatus(created.id, "completed")
    const spans = exporter.getFinishedSpans()
    expect(spans.length).toBeGreaterThan(10)
    // what spans say, not when: an event's epoch time has ten digits, and a six-digit code may be among them
    const spanText = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })) })))
    expect(spanText).not.toContain(code)
    expect(spanText).not.toContain(wrongCode(code))
    expect(logged.length).toBeGreaterThan(0)
    expect(logged.join("")).not.toContain(code)
  })
})

describe("an expired code and retention", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url, env: { VERIFICATION_CODE_TTL: "1s", CALLBACK_RETENTION: "3s" } })
  })
  afterAll(() => app.dispose())

  it("is 410, and the request is expired by the cleanup", async () => {
    const business = await app.createBusiness()
    const phone = freshNumber()
    const created = await app.create(business.id, phone)
    const code = await app.codeFor(phone)
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    const response = await app.verify(created.id, code)
    expect(response.status).toBe(410)
    expect(((await response.json()) as { reason: string }).reason).toBe("expired")
    await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "maintenance.cleanup" }) })
    await app.waitForStatus(created.id, "expired", 10_000)
    expect((await app.verify(created.id, code)).status).toBe(410)
  })

  it("past CALLBACK_RETENTION, the cleanup deletes a finished request with its code and texts", async () => {
    const business = await app.createBusiness()
    const created = await app.create(business.id)
    await app.codeFor(created.phone)
    expect((await app.request(`/admin/api/callbacks/${created.id}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    const cleanup = () => app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "maintenance.cleanup" }) })
    await cleanup()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await app.request(`/v1/callbacks/${created.id}`)).status).toBe(200) // finished, but not yet past retention
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    await cleanup()
    await eventually(async () => ((await app.request(`/v1/callbacks/${created.id}`)).status === 404 ? true : undefined), 10_000, "the request to be purged")
    const left = await query<{ n: string }>(
      url,
      "SELECT (SELECT count(*) FROM verifications WHERE callback_id = $1) + (SELECT count(*) FROM sms_messages WHERE callback_id = $1) AS n",
      [created.id]
    )
    expect(Number(left[0]?.n)).toBe(0)
  })
})
