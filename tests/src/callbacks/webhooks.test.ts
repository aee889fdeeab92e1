/**
 * The Twilio webhooks against the whole callback platform (real HTTP, real
 * Postgres, the in-process simulator):
 *
 * - a missing, malformed or tampered `X-Twilio-Signature` (a valid signature
 *   of other params, of another path or of another URL) is a 403 problem and
 *   changes nothing in the database;
 * - correctly signed requests work (TwiML that bridges the visitor, 204s);
 * - the call status callbacks are idempotent and order-insensitive: any
 *   shuffle with duplicates of what Twilio sends for one call ends the request
 *   the same way, never moves it backwards, and has its side effects (metric,
 *   follow-up dial job) exactly once;
 * - a delivery Twilio retries (same `I-Twilio-Idempotency-Token`) is a 204
 *   that changes nothing and is counted; the voice webhook gives a retry the
 *   same TwiML;
 * - an `ErrorCode` is stored with its meaning and classified: an invalid
 *   number is exhausted (no retry on it), other codes are retried as usual;
 * - parameters this app does not know are ignored.
 *
 * The business numbers are scripted to answer only after ten minutes, so the
 * simulator sends nothing after `ringing`: every later report is the test's.
 */
import fc from "fast-check"
import { randomUUID } from "node:crypto"
import twilio from "twilio"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_FROM } from "../../../infra/twilio/Simulator.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { count } from "../../support/ledger.ts"

const NEVER_MS = 600_000
const FORM = "application/x-www-form-urlencoded"

let app: CallbackApp
let databaseUrl: string

beforeAll(async () => {
  databaseUrl = await cloneDatabase()
  // a busy or unanswered call is retried only after ten minutes: never during the test
  app = await startCallbackApp({ databaseUrl, env: { CALLBACK_RETRY_DELAYS: "10m" } })
})
afterAll(() => app?.dispose())

// ---------------------------------------------------------------- helpers

const sign = (url: string, params: Record<string, string>, token = SIMULATOR_AUTH_TOKEN) => twilio.getExpectedTwilioSignature(token, url, params)

/** POSTs `params` form-encoded to `path`, with `signature` as X-Twilio-Signature (none when undefined). */
const postForm = (path: string, params: Record<string, string>, signature: string | undefined) =>
  app.fetch(app.baseUrl + path, {
    method: "POST",
    headers: { "content-type": FORM, ...(signature === undefined ? {} : { "x-twilio-signature": signature }) },
    body: new URLSearchParams(params).toString()
  })

/** POSTs `params` to `path` signed the way Twilio signs it for this app. */
const postSigned = (path: string, params: Record<string, string>) => postForm(path, params, sign(app.baseUrl + path, params))

interface AttemptRow {
  readonly id: string
  readonly status: string
  readonly call_sid: string | null
  readonly answered: boolean
}

const attemptsOf = (callbackId: string) => query<AttemptRow>(databaseUrl, "SELECT id, status, call_sid, answered FROM call_attempts WHERE callback_id = $1 ORDER BY n", [callbackId])

const dialJobs = (callbackId: string) => count(databaseUrl, "SELECT count(*) AS n FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = $1", [callbackId])

interface DialJob {
  readonly id: string
  readonly state: string
  readonly run_at: Date
  readonly unique_key: string | null
}
const dialJobsOf = (callbackId: string) =>
  query<DialJob>(databaseUrl, "SELECT id, state, run_at, unique_key FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = $1 ORDER BY id", [callbackId])
/** The dial jobs enqueued for a retry (their unique key names the request's status then: retry_scheduled). */
const followUpDials = async (callbackId: string) => (await dialJobsOf(callbackId)).filter((job) => job.unique_key?.includes(":retry_scheduled:") === true)

/**
 * A verified request of a business of its own whose number rings for ten
 * minutes: returned once it is dialing and Twilio (the simulator) has taken
 * the call, with the attempt and the call's sid.
 */
const ringingRequest = async () => {
  const business = await app.createBusiness()
  const scripted = await app.script(business.phone, "answered", { afterMs: NEVER_MS })
  expect(scripted.status).toBeLessThan(300)
  const request = await app.verified(business.id)
  await app.waitForStatus(request.id, "dialing")
  const attempt = await eventually(
    async () => {
      const [row] = await attemptsOf(request.id)
      return row !== undefined && row.call_sid !== null ? { ...row, call_sid: row.call_sid } : undefined
    },
    10_000,
    `the attempt of ${request.id} to be placed`
  )
  return { business, request, attempt }
}

/** The form params of a call status callback, as the simulator (and Twilio) send them. */
const callStatus = (sid: string, to: string, status: string, sequence: number, extra: Record<string, string> = {}): Record<string, string> => ({
  AccountSid: SIMULATOR_ACCOUNT_SID,
  CallSid: sid,
  From: SIMULATOR_FROM,
  To: to,
  Called: to,
  Caller: SIMULATOR_FROM,
  Direction: "outbound-api",
  ApiVersion: "2010-04-01",
  CallStatus: status,
  SequenceNumber: String(sequence),
  Timestamp: new Date().toUTCString().replace("GMT", "+0000"),
  ...extra
})

const expectProblem = async (response: Response, status: number, slug: string, label: string) => {
  const text = await response.text()
  expect(response.status, `${label}: ${text}`).toBe(status)
  expect(response.headers.get("content-type"), label).toBe("application/problem+json")
  const problem = JSON.parse(text) as { type?: unknown; status?: unknown }
  expect(problem.type, label).toBe(`/problems/${slug}`)
  expect(problem.status, label).toBe(status)
}

/** Everything a webhook could change about a request, read straight from the database. */
const snapshot = async (callbackId: string) => ({
  request: await query(databaseUrl, "SELECT * FROM callback_requests WHERE id = $1", [callbackId]),
  attempts: await query(databaseUrl, "SELECT * FROM call_attempts WHERE callback_id = $1 ORDER BY n", [callbackId]),
  messages: await query(databaseUrl, "SELECT * FROM sms_messages WHERE callback_id = $1 ORDER BY created_at, id", [callbackId]),
  jobs: await query(databaseUrl, "SELECT id, kind, state, run_at FROM jobs WHERE args->>'callbackId' = $1 ORDER BY id", [callbackId])
})

/**
 * The value of counter `name` with `label="value"` from GET /metrics (0 before it was first counted).
 * Read with a pattern of its own: the strict parser of support/prometheus.ts refuses prom-client's
 * `Nan` of the event loop gauges, which is beside the point here.
 */
const counter = async (name: string, label: string, value: string): Promise<number> => {
  const response = await app.request("/metrics")
  const text = await response.text()
  expect(response.status, text).toBe(200)
  const values = text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(`${label}="${value}"`))
    .map((line) => Number(line.slice(line.lastIndexOf("}") + 1).trim().split(" ")[0]))
  expect(values.length, `samples of ${name}{${label}="${value}"}`).toBeLessThanOrEqual(1)
  return values[0] ?? 0
}
const dialOutcome = (outcome: string) => counter("switchboard_dial_attempts_total", "outcome", outcome)
const entered = (status: string) => counter("switchboard_callbacks_total", "status", status)

// ---------------------------------------------------------------- signatures

describe("X-Twilio-Signature", () => {
  let ringing: Awaited<ReturnType<typeof ringingRequest>>
  let messageId: string

  beforeAll(async () => {
    ringing = await ringingRequest()
    // let the simulator's own reports land first: the verification text delivered, the call ringing
    messageId = await eventually(
      async () => {
        const [message] = await query<{ id: string; status: string }>(databaseUrl, "SELECT id, status FROM sms_messages WHERE callback_id = $1", [ringing.request.id])
        return message?.status === "delivered" ? message.id : undefined
      },
      10_000,
      "the verification text to be delivered"
    )
    await eventually(async () => ((await attemptsOf(ringing.request.id))[0]?.status === "ringing" ? true : undefined), 10_000, "the call to ring")
  })

  /** The three webhooks with params that would change something if they were accepted. */
  const targets = () => {
    const { attempt, business } = ringing
    return [
      { name: "voice", path: `/twilio/voice/${attempt.id}`, params: callStatus(attempt.call_sid, business.phone, "in-progress", 2) },
      { name: "call status", path: `/twilio/status/call/${attempt.id}`, params: callStatus(attempt.call_sid, business.phone, "completed", 3, { CallDuration: "7" }) },
      {
        name: "sms status",
        path: `/twilio/status/sms/${messageId}`,
        params: { AccountSid: SIMULATOR_ACCOUNT_SID, MessageSid: "SMx", SmsSid: "SMx", MessageStatus: "failed", SmsStatus: "failed", ApiVersion: "2010-04-01", SequenceNumber: "9" }
      }
    ]
  }

  /** Ways to get the signature wrong: each a signature (or none) for a request of `params` to `path`. */
  const forgeries = (path: string, params: Record<string, string>): ReadonlyArray<readonly [string, string | undefined]> => {
    const url = app.baseUrl + path
    const port = new URL(app.baseUrl).port
    const otherId = "00000000-0000-4000-8000-000000000000"
    const otherPath = path.replace(/[0-9a-f-]{36}$/, otherId)
    const otherRoute = path.startsWith("/twilio/voice/") ? path.replace("/twilio/voice/", "/twilio/status/call/") : path.replace(/^\/twilio\/status\/(call|sms)\//, "/twilio/voice/")
    const withoutOne = Object.fromEntries(Object.entries(params).filter(([name]) => name !== "CallStatus" && name !== "MessageStatus"))
    return [
      ["missing", undefined],
      ["empty", ""],
      ["garbage", "not-a-signature"],
      ["base64 of nothing", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="],
      ["signed with another auth token", sign(url, params, "not-the-auth-token")],
      ["signed for other params (a value changed)", sign(url, { ...params, CallStatus: "queued", MessageStatus: "queued" })],
      ["signed for fewer params (one was added)", sign(url, withoutOne)],
      ["signed for more params (one was dropped)", sign(url, { ...params, Extra: "1" })],
      ["signed for no params", sign(url, {})],
      ["signed for another id", sign(app.baseUrl + otherPath, params)],
      ["signed for another route", sign(app.baseUrl + otherRoute, params)],
      ["signed for a trailing slash", sign(`${url}/`, params)],
      ["signed with a query string", sign(`${url}?attempt=1`, params)],
      ["signed for another host", sign(`http://localhost:${port}${path}`, params)],
      ["signed for https", sign(`https://127.0.0.1:${port}${path}`, params)],
      ["signed for another public URL", sign(`https://switchboard.example.com${path}`, params)],
      ["signed for the path alone", sign(path, params)],
      ["the right signature, lower-cased", sign(url, params).toLowerCase()],
      ["the right signature, truncated", sign(url, params).slice(0, -2)]
    ]
  }

  it("a missing, malformed or tampered signature is a 403 problem and changes nothing", async () => {
    const before = await snapshot(ringing.request.id)
    expect(before.attempts).toHaveLength(1)
    expect(before.attempts[0]).toMatchObject({ status: "ringing", answered: false })
    expect(before.request[0]).toMatchObject({ status: "dialing" })
    for (const target of targets()) {
      for (const [how, signature] of forgeries(target.path, target.params)) {
        await expectProblem(await postForm(target.path, target.params, signature), 403, "forbidden", `${target.name}, ${how}`)
      }
      // the right signature with the body changed after signing
      const signature = sign(app.baseUrl + target.path, target.params)
      await expectProblem(await postForm(target.path, { ...target.params, CallStatus: "busy", MessageStatus: "undelivered" }, signature), 403, "forbidden", `${target.name}, body changed`)
      // the right signature sent to another URL: a query string added, another id
      await expectProblem(await postForm(`${target.path}?x=1`, target.params, signature), 403, "forbidden", `${target.name}, query string added`)
      await expectProblem(
        await postForm(target.path.replace(/[0-9a-f-]{36}$/, "00000000-0000-4000-8000-000000000000"), target.params, signature),
        403,
        "forbidden",
        `${target.name}, sent to another id`
      )
      // a valid signature for the request Twilio sent, replayed with a JSON body
      const json = await app.fetch(app.baseUrl + target.path, { method: "POST", headers: { "content-type": "application/json", "x-twilio-signature": signature }, body: JSON.stringify(target.params) })
      await expectProblem(json, 403, "forbidden", `${target.name}, JSON body`)
    }
    expect(await snapshot(ringing.request.id)).toEqual(before)
    expect((await app.view(ringing.request.id)).status).toBe("dialing")
  })

  it("an unsigned request to an id that does not exist (or is no id) is a 403 too, not a 404", async () => {
    for (const path of ["/twilio/voice/nope", "/twilio/status/call/00000000-0000-4000-8000-000000000000", "/twilio/status/sms/%00", "/twilio/status/call/"]) {
      const response = await postForm(path, { CallStatus: "completed" }, undefined)
      if (path.endsWith("/")) expect([403, 404], path).toContain(response.status)
      else await expectProblem(response, 403, "forbidden", path)
    }
  })

  it("a correctly signed request works: TwiML that bridges the visitor, 204 for status reports", async () => {
    const { attempt, business, request } = ringing
    const voice = await postSigned(`/twilio/voice/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "in-progress", 2))
    const twiml = await voice.text()
    expect(voice.status, twiml).toBe(200)
    expect(voice.headers.get("content-type")).toMatch(/^text\/xml/)
    expect(twiml).toMatch(/^<\?xml /)
    expect(twiml).toContain("<Dial")
    expect(twiml).toContain(`<Number>${request.phone}</Number>`)
    expect(twiml).toContain("Ada")

    // the voice URL itself changes nothing; the status reports do
    expect((await app.view(request.id)).status).toBe("dialing")
    const sms = await postSigned(`/twilio/status/sms/${messageId}`, { AccountSid: SIMULATOR_ACCOUNT_SID, MessageSid: "SMx", MessageStatus: "delivered", SequenceNumber: "5" })
    expect(sms.status, await sms.text()).toBe(204)

    const answered = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "in-progress", 2))
    expect(answered.status, await answered.text()).toBe(204)
    expect((await app.view(request.id)).status).toBe("connected")
    const completed = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "completed", 3, { CallDuration: "4" }))
    expect(completed.status, await completed.text()).toBe(204)
    const view = await app.view(request.id)
    expect(view.status).toBe("completed")
    expect(view.attempts).toHaveLength(1)
    expect(view.attempts[0]).toMatchObject({ status: "completed" })

    // signed, but about nothing this app knows: harmless
    const unknown = await postSigned("/twilio/status/call/00000000-0000-4000-8000-000000000000", callStatus("CAnope", business.phone, "completed", 3))
    expect(unknown.status).toBe(204)
    const notAnId = await postSigned("/twilio/status/call/not-an-id", callStatus("CAnope", business.phone, "completed", 3))
    await expectProblem(notAnId, 404, "not-found", "signed, not an id")
    const voiceOfUnknown = await postSigned("/twilio/voice/00000000-0000-4000-8000-000000000000", {})
    expect(voiceOfUnknown.status).toBe(200)
    expect(await voiceOfUnknown.text()).toContain("<Hangup/>")
  })
})

// ---------------------------------------------------------------- order and duplicates

/** A shuffle of `reports` in which each appears at least once and up to `maxCopies` times. */
const shuffledWithDuplicates = <A>(reports: ReadonlyArray<A>, maxCopies: number): fc.Arbitrary<ReadonlyArray<A>> =>
  fc
    .tuple(...reports.map((report) => fc.integer({ min: 1, max: maxCopies }).map((copies) => Array.from({ length: copies }, () => report))))
    .chain((groups) => fc.shuffledSubarray(groups.flat(), { minLength: groups.flat().length, maxLength: groups.flat().length }))

interface Report {
  readonly status: string
  readonly sequence: number
  readonly extra?: Record<string, string>
}

const ANSWERED: ReadonlyArray<Report> = [
  { status: "initiated", sequence: 0 },
  { status: "ringing", sequence: 1 },
  { status: "in-progress", sequence: 2 },
  { status: "completed", sequence: 3, extra: { CallDuration: "12" } }
]
const BUSY: ReadonlyArray<Report> = [
  { status: "initiated", sequence: 0 },
  { status: "ringing", sequence: 1 },
  { status: "busy", sequence: 2, extra: { CallDuration: "0" } }
]

/** Sends `reports` in order, one at a time; the request's status after each. */
const deliver = async (ringing: Awaited<ReturnType<typeof ringingRequest>>, reports: ReadonlyArray<Report>) => {
  const { attempt, business, request } = ringing
  const seen: Array<string> = []
  for (const report of reports) {
    const response = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, report.status, report.sequence, report.extra))
    expect(response.status, `${report.status}: ${await response.text()}`).toBe(204)
    seen.push((await app.view(request.id)).status)
  }
  return seen
}

const expectNeverBackwards = (seen: ReadonlyArray<string>, order: ReadonlyArray<string>, label: string) => {
  const ranks = seen.map((status) => order.indexOf(status))
  expect(ranks.every((rank) => rank >= 0), `${label}: ${seen.join(" -> ")}`).toBe(true)
  for (let i = 1; i < ranks.length; i++) expect(ranks[i] ?? -1, `${label}: ${seen.join(" -> ")}`).toBeGreaterThanOrEqual(ranks[i - 1] ?? -1)
}

describe("call status callbacks are idempotent and order-insensitive", () => {
  it("answered then completed, in any order and with duplicates: completed once", { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(shuffledWithDuplicates(ANSWERED, 3), async (reports) => {
        const label = reports.map((r) => r.status).join(",")
        const ringing = await ringingRequest()
        const answeredBefore = await dialOutcome("answered")
        const connectedBefore = await entered("connected")
        const completedBefore = await entered("completed")
        const seen = await deliver(ringing, reports)
        expectNeverBackwards(seen, ["dialing", "connected", "completed"], label)
        expect(seen.at(-1), label).toBe("completed")
        const view = await app.view(ringing.request.id)
        expect(view.status, label).toBe("completed")
        const attempts = await attemptsOf(ringing.request.id)
        expect(attempts, label).toHaveLength(1)
        expect(attempts[0], label).toMatchObject({ id: ringing.attempt.id, status: "completed", answered: true, call_sid: ringing.attempt.call_sid })
        expect(await dialJobs(ringing.request.id), label).toBe(1)
        expect(await dialOutcome("answered"), label).toBe(answeredBefore + 1)
        expect(await entered("connected"), label).toBe(connectedBefore + 1)
        expect(await entered("completed"), label).toBe(completedBefore + 1)
        // the dial job lets go of the business's slot once the call has ended
        await eventually(
          async () => ((await count(databaseUrl, "SELECT count(*) AS n FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = $1 AND state = 'completed'", [ringing.request.id])) === 1 ? true : undefined),
          10_000,
          "the dial job to complete"
        )
        expect(await dialOutcome("answered"), label).toBe(answeredBefore + 1)
      }),
      { numRuns: 15, examples: [[[...ANSWERED].reverse()], [[ANSWERED[3] as Report, ANSWERED[3] as Report, ANSWERED[2] as Report, ANSWERED[0] as Report, ANSWERED[1] as Report]]] }
    )
  })

  it("initiated, ringing, busy in any order and with duplicates: one retry scheduled, one follow-up dial", { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(shuffledWithDuplicates(BUSY, 3), async (reports) => {
        const label = reports.map((r) => r.status).join(",")
        const ringing = await ringingRequest()
        const busyBefore = await dialOutcome("busy")
        const answeredBefore = await dialOutcome("answered")
        const retriesBefore = await entered("retry_scheduled")
        const seen = await deliver(ringing, reports)
        expectNeverBackwards(seen, ["dialing", "retry_scheduled"], label)
        const view = await app.view(ringing.request.id)
        expect(view.status, label).toBe("retry_scheduled")
        expect(Date.parse(view.nextAttemptAt ?? "") - Date.now(), label).toBeGreaterThan(8 * 60_000)
        const attempts = await attemptsOf(ringing.request.id)
        expect(attempts, label).toHaveLength(1)
        expect(attempts[0], label).toMatchObject({ status: "busy", answered: false })
        expect(await dialJobs(ringing.request.id), label).toBe(2)
        // the one follow-up: the dial of the next attempt on this number, due when the retry delay is over
        const followUps = await followUpDials(ringing.request.id)
        expect(followUps, label).toHaveLength(1)
        expect(followUps[0]?.state, label).toBe("scheduled")
        expect(followUps[0]?.run_at.getTime() ?? 0, label).toBeGreaterThan(Date.now() + 8 * 60_000)
        expect(await dialOutcome("busy"), label).toBe(busyBefore + 1)
        expect(await dialOutcome("answered"), label).toBe(answeredBefore)
        expect(await entered("retry_scheduled"), label).toBe(retriesBefore + 1)
      }),
      { numRuns: 15, examples: [[[...BUSY].reverse()], [[BUSY[2] as Report, BUSY[2] as Report, BUSY[1] as Report, BUSY[0] as Report]]] }
    )
  })
})

/** A regression the busy property found (it failed before the fix). */
describe("found by the properties above", () => {
  it("after an unanswered call the first dial job finishes; only the follow-up stays alive", async () => {
    const ringing = await ringingRequest()
    for (const report of BUSY) await deliver(ringing, [report])
    expect((await app.view(ringing.request.id)).status).toBe("retry_scheduled")
    const [first] = await dialJobsOf(ringing.request.id)
    // the first job waited on the call; once it ended, the job should be done (the follow-up takes over)
    const settled = await eventually(
      async () => {
        const job = (await dialJobsOf(ringing.request.id)).find((j) => j.id === first?.id)
        return job !== undefined && job.state !== "running" ? job : undefined
      },
      10_000,
      "the first dial job to stop running"
    )
    expect(settled.state).toBe("completed")
    const live = (await dialJobsOf(ringing.request.id)).filter((j) => ["available", "scheduled", "running", "retryable"].includes(j.state))
    expect(live).toHaveLength(1)
  })
})

describe("the voice webhook", () => {
  it("bridges the visitor only for the request's current call while it is being made: not after a cancel, nor after a cancel and a retry", async () => {
    const ringing = await ringingRequest()
    const path = `/twilio/voice/${ringing.attempt.id}`
    const params = callStatus(ringing.attempt.call_sid, ringing.business.phone, "in-progress", 2)
    const live = await (await postSigned(path, params)).text()
    expect(live).toContain("<Dial")

    expect((await app.request(`/admin/api/callbacks/${ringing.request.id}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    const cancelled = await (await postSigned(path, params)).text()
    expect(cancelled).not.toContain("<Dial")
    expect(cancelled).toContain("<Hangup/>")

    expect((await app.request(`/admin/api/callbacks/${ringing.request.id}/retry`, { method: "POST", admin: true })).status).toBe(200)
    const superseded = await (await postSigned(path, params)).text()
    expect(superseded).not.toContain("<Dial")
  })
})

// ---------------------------------------------------------------- Twilio's retries, error codes, new parameters

describe("Twilio's retries", () => {
  const TOKEN_HEADER = "I-Twilio-Idempotency-Token"
  const retries = (route: string) => counter("switchboard_twilio_webhook_retries_total", "route", route)

  /** POSTs `params` signed, with `token` as the delivery's idempotency token. */
  const postDelivery = (path: string, params: Record<string, string>, token: string) =>
    app.fetch(app.baseUrl + path, {
      method: "POST",
      headers: { "content-type": FORM, "x-twilio-signature": sign(app.baseUrl + path, params), [TOKEN_HEADER]: token },
      body: new URLSearchParams(params).toString()
    })

  it("a call status delivery retried with its token is a 204 that changes nothing, counted; a new token applies", async () => {
    const ringing = await ringingRequest()
    const { attempt, business, request } = ringing
    const path = `/twilio/status/call/${attempt.id}`
    const route = "/twilio/status/call/:attemptId"
    const before = await retries(route)
    const token = `${randomUUID()}-answered`
    const answered = await postDelivery(path, callStatus(attempt.call_sid, business.phone, "in-progress", 2), token)
    expect(answered.status, await answered.text()).toBe(204)
    expect((await app.view(request.id)).status).toBe("connected")
    expect(await query(databaseUrl, "SELECT route FROM webhook_deliveries WHERE token = $1", [token])).toEqual([{ route }])

    // the same delivery again (Twilio's retry), twice
    const snapshotBefore = await snapshot(request.id)
    for (let i = 0; i < 2; i++) {
      const retry = await postDelivery(path, callStatus(attempt.call_sid, business.phone, "in-progress", 2), token)
      expect(retry.status, await retry.text()).toBe(204)
    }
    expect(await retries(route)).toBe(before + 2)
    // a delivery whose token was applied is not looked at: even a body that would move the call on changes nothing
    const sameToken = await postDelivery(path, callStatus(attempt.call_sid, business.phone, "completed", 3, { CallDuration: "9" }), token)
    expect(sameToken.status, await sameToken.text()).toBe(204)
    expect(await snapshot(request.id)).toEqual(snapshotBefore)
    expect(await retries(route)).toBe(before + 3)

    // the next delivery has a token of its own and applies
    const completed = await postDelivery(path, callStatus(attempt.call_sid, business.phone, "completed", 3, { CallDuration: "9" }), `${randomUUID()}-completed`)
    expect(completed.status, await completed.text()).toBe(204)
    expect((await app.view(request.id)).status).toBe("completed")
    expect(await retries(route)).toBe(before + 3)
  })

  it("a message status delivery retried with its token changes nothing; its ErrorCode is stored with its meaning", async () => {
    const ringing = await ringingRequest()
    const messageId = randomUUID()
    // a text of this request that Twilio has taken, written directly: no simulator report can interfere
    await query(databaseUrl, "INSERT INTO sms_messages (id, callback_id, kind, generation, to_phone, status, sid) VALUES ($1, $2, 'circuit_notice', 7, $3, 'queued', 'SMtest')", [
      messageId,
      ringing.request.id,
      ringing.request.phone
    ])
    const path = `/twilio/status/sms/${messageId}`
    const route = "/twilio/status/sms/:messageId"
    const before = await retries(route)
    const params = (status: string, sequence: number, extra: Record<string, string> = {}) => ({
      AccountSid: SIMULATOR_ACCOUNT_SID,
      MessageSid: "SMtest",
      MessageStatus: status,
      SequenceNumber: String(sequence),
      ...extra
    })
    const message = async () => (await query<{ status: string; error: string | null }>(databaseUrl, "SELECT status, error FROM sms_messages WHERE id = $1", [messageId]))[0]

    const token = randomUUID()
    expect((await postDelivery(path, params("sent", 1), token)).status).toBe(204)
    expect(await message()).toEqual({ status: "sent", error: null })
    // the retry of that delivery, even with a body that would apply, changes nothing
    expect((await postDelivery(path, params("undelivered", 2, { ErrorCode: "30005" }), token)).status).toBe(204)
    expect(await message()).toEqual({ status: "sent", error: null })
    expect(await retries(route)).toBe(before + 1)

    expect((await postDelivery(path, params("undelivered", 2, { ErrorCode: "30005" }), randomUUID())).status).toBe(204)
    expect(await message()).toEqual({ status: "undelivered", error: "Twilio error 30005: unknown destination handset" })
  })

  it("a token of another form (longer than 200 characters) is ignored: the report applies as one without a token, never refused", async () => {
    const { attempt, business, request } = await ringingRequest()
    const path = `/twilio/status/call/${attempt.id}`
    const long = "t".repeat(201)
    const answered = await postDelivery(path, callStatus(attempt.call_sid, business.phone, "in-progress", 2), long)
    expect(answered.status, await answered.text()).toBe(204)
    expect((await app.view(request.id)).status).toBe("connected")
    // the same malformed token again is not taken for a retry: the next report applies
    const completed = await postDelivery(path, callStatus(attempt.call_sid, business.phone, "completed", 3, { CallDuration: "5" }), long)
    expect(completed.status, await completed.text()).toBe(204)
    expect((await app.view(request.id)).status).toBe("completed")
    expect(await query(databaseUrl, "SELECT token FROM webhook_deliveries WHERE token = $1 OR length(token) > 200", [long])).toEqual([])
  })

  it("the voice webhook only reads: a retry with the same token gets the same TwiML", async () => {
    const ringing = await ringingRequest()
    const path = `/twilio/voice/${ringing.attempt.id}`
    const params = callStatus(ringing.attempt.call_sid, ringing.business.phone, "in-progress", 2)
    const token = randomUUID()
    const first = await postDelivery(path, params, token)
    const twiml = await first.text()
    expect(first.status, twiml).toBe(200)
    expect(twiml).toContain("<Dial")
    const retry = await postDelivery(path, params, token)
    expect(retry.status).toBe(200)
    expect(await retry.text()).toBe(twiml)
    expect((await app.view(ringing.request.id)).status).toBe("dialing")
  })
})

describe("Twilio's error codes", () => {
  it("a call that failed with an ErrorCode meaning the number is invalid exhausts that number: no retry, shown with its meaning", async () => {
    const { attempt, business, request } = await ringingRequest()
    const failed = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "failed", 2, { ErrorCode: "13224", CallDuration: "0" }))
    expect(failed.status, await failed.text()).toBe(204)
    // the business has no backup number: with its only number exhausted the request gives up at once,
    // where a failed call would otherwise be retried (CALLBACK_ATTEMPTS_PER_NUMBER > 1)
    const view = await app.view(request.id)
    expect(view.status).toBe("failed")
    expect(view.attempts).toHaveLength(1)
    expect(view.attempts[0]).toMatchObject({ status: "failed", error: "Twilio error 13224: invalid phone number" })
    expect(await followUpDials(request.id)).toHaveLength(0)
  })

  it("a call that failed with a transient or unknown ErrorCode is retried as usual, the code shown", async () => {
    for (const [code, shown] of [["30008", "Twilio error 30008: unknown error"], ["31999", "Twilio error 31999"]] as const) {
      const { attempt, business, request } = await ringingRequest()
      const failed = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "failed", 2, { ErrorCode: code }))
      expect(failed.status, await failed.text()).toBe(204)
      const view = await app.view(request.id)
      expect(view.status, code).toBe("retry_scheduled")
      expect(view.attempts[0], code).toMatchObject({ status: "failed", error: shown })
      expect(await followUpDials(request.id), code).toHaveLength(1)
    }
  })

  it("with a backup number, an invalid number moves the plan on to the backup", async () => {
    const business = await app.createBusiness({ escalation: [{ phone: freshNumber(), ringSeconds: 20 }] })
    const backup = business.escalation[0]?.phone ?? ""
    expect((await app.script(business.phone, "answered", { afterMs: NEVER_MS })).status).toBeLessThan(300)
    expect((await app.script(backup, "answered", { afterMs: NEVER_MS })).status).toBeLessThan(300)
    const request = await app.verified(business.id)
    const attempt = await eventually(
      async () => {
        const [row] = await attemptsOf(request.id)
        return row?.call_sid === null || row === undefined ? undefined : { ...row, call_sid: row.call_sid }
      },
      10_000,
      "the first attempt to be placed"
    )
    const failed = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "failed", 2, { ErrorCode: "21217" }))
    expect(failed.status, await failed.text()).toBe(204)
    // escalated at once, then dialled on the backup
    const view = await eventually(async () => {
      const current = await app.view(request.id)
      return current.attempts.some((a) => a.level === 1) ? current : undefined
    }, 10_000, "the backup number to be called")
    expect(view.attempts[0]).toMatchObject({ level: 0, status: "failed", error: "Twilio error 21217: phone number does not appear to be valid" })
    expect(view.attempts[1]).toMatchObject({ level: 1, to: backup })
  })
})

describe("parameters Twilio may add", () => {
  it("a status callback with parameters this app does not know is a 204 and applies", async () => {
    const { attempt, business, request } = await ringingRequest()
    const extra = {
      CallbackSource: "call-progress-events",
      StirVerstat: "TN-Validation-Passed-A",
      ParentCallSid: "",
      SomethingNewIn2030: "whatever, with spaces & symbols",
      "Weird.Name[0]": "1"
    }
    const answered = await postSigned(`/twilio/status/call/${attempt.id}`, callStatus(attempt.call_sid, business.phone, "in-progress", 2, extra))
    expect(answered.status, await answered.text()).toBe(204)
    expect((await app.view(request.id)).status).toBe("connected")
  })
})
