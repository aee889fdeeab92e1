/**
 * The simulator against Twilio's own descriptions (tests/fixtures/twilio):
 * every REST response it gives in this file is recorded and validated with
 * ajv against the schemas of Twilio's OpenAPI description (every property
 * present, none added: Twilio's examples pass that check too) or, for errors,
 * against Twilio's error body; every status callback is checked against the
 * parameters Twilio documents for it. Then the behaviours that make it
 * Twilio: StatusCallbackEvent, queue time, error codes, answering machines,
 * redelivered webhooks with their idempotency token, the call update.
 */
import { Ajv, type ValidateFunction } from "ajv"
import addFormats from "ajv-formats"
import { fullFormats } from "ajv-formats/dist/formats.js"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { listen, type Listener } from "../../../infra/http/Listener.ts"
import { makeSimulator } from "../../../infra/twilio/Simulator.ts"
import { simulatedTwilio } from "../../../infra/twilio/SimulatorClient.ts"
import api from "../../fixtures/twilio/api_v2010_calls_messages.json" with { type: "json" }
import restErrorFixture from "../../fixtures/twilio/rest_error.json" with { type: "json" }
import { type ReceivedWebhook, startWebhookReceiver } from "../../support/webhookReceiver.ts"
import callbackFixture from "../../fixtures/twilio/status_callback_parameters.json" with { type: "json" }
import { eventually } from "../../support/database.ts"

const ACCOUNT = "AC" + "1".repeat(32)
const TOKEN = "fidelity-test-auth-token"
const FROM = "+15005550006"
const EVERY_EVENT = ["initiated", "ringing", "answered", "completed"]
const AUTH = { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}` }

type Json = Record<string, unknown>
type OperationId = keyof typeof api.operations

/** Twilio's schemas with every property required and no other allowed: a missing or an invented field fails. */
const strict = (schema: Json): Json => ({ ...schema, required: Object.keys(schema.properties as Json), additionalProperties: false })

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false })
addFormats.default(ajv, ["uri-reference"])
ajv.addKeyword("x-twilio")
ajv.addVocabulary(["components", "operations"])
// Twilio's URIs are paths on api.twilio.com (its own examples say "/2010-04-01/..."): a URI reference
ajv.addFormat("uri", fullFormats["uri-reference"])
ajv.addFormat("date-time-rfc-2822", /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/)
ajv.addFormat("currency", /^[A-Z]{3}$/)
ajv.addFormat("phone-number", /^\+[1-9]\d{1,14}$/)
ajv.addFormat("uri-map", true)
const schemas = structuredClone(api.components.schemas) as Record<string, Json>
for (const name of ["api.v2010.account.call", "api.v2010.account.message"]) schemas[name] = strict(schemas[name] as Json)
ajv.addSchema(
  {
    $id: "twilio.json",
    components: { schemas },
    operations: Object.fromEntries(Object.entries(api.operations).map(([id, operation]) => [id, "properties" in operation.schema ? strict(operation.schema) : operation.schema]))
  },
  "twilio.json"
)
const validatorOf = (id: OperationId | "error"): ValidateFunction =>
  id === "error" ? ajv.compile(restErrorFixture.schema) : (ajv.getSchema(`twilio.json#/operations/${id}`) as ValidateFunction)

/** Which operation (or error) a REST response answers, by method, path and status. */
const operationOf = (method: string, path: string, status: number): OperationId | "error" | undefined => {
  if (status >= 400) return "error"
  const account = `/2010-04-01/Accounts/${ACCOUNT}`
  if (method === "POST" && path === `${account}/Calls.json` && status === 201) return "CreateCall"
  if (method === "GET" && path === `${account}/Calls.json` && status === 200) return "ListCall"
  if (method === "GET" && /^\/2010-04-01\/Accounts\/AC\w+\/Calls\/CA\w+\.json$/.test(path) && status === 200) return "FetchCall"
  // UpdateCall answers the same Call resource (api.v2010.account.call; the SDK reads both into a CallInstance): the fixture keeps it once, as FetchCall's
  if (method === "POST" && /^\/2010-04-01\/Accounts\/AC\w+\/Calls\/CA\w+\.json$/.test(path) && status === 200) return "FetchCall"
  if (method === "POST" && path === `${account}/Messages.json` && status === 201) return "CreateMessage"
  if (method === "GET" && /^\/2010-04-01\/Accounts\/AC\w+\/Messages\/SM\w+\.json$/.test(path) && status === 200) return "FetchMessage"
  return undefined
}

interface RestExchange {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly body: unknown
}

type Callback = ReceivedWebhook

const problemsOf = (exchange: RestExchange): string | undefined => {
  const id = operationOf(exchange.method, exchange.path, exchange.status)
  if (id === undefined) return `${exchange.method} ${exchange.path} ${exchange.status}: no Twilio operation answers this`
  const validate = validatorOf(id)
  return validate(exchange.body) ? undefined : `${exchange.method} ${exchange.path} ${exchange.status} (${id}): ${ajv.errorsText(validate.errors)}`
}

describe("the simulator as Twilio describes it", () => {
  let listener: Listener
  let simUrl: string
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>
  let base: string
  let close: () => void
  const rest: Array<RestExchange> = []
  let received: Array<Callback> = []
  const checked = { rest: 0, callbacks: 0 }

  beforeAll(async () => {
    const simulator = makeSimulator({ accountSid: ACCOUNT, authToken: TOKEN })
    close = simulator.close
    const recording = async (request: Request): Promise<Response> => {
      const response = await simulator.app.fetch(request)
      const url = new URL(request.url)
      if (url.pathname.startsWith("/2010-04-01/")) {
        rest.push({ method: request.method, path: url.pathname, status: response.status, body: await response.clone().json() })
      }
      return response
    }
    listener = await listen(recording, 0, "127.0.0.1")
    simUrl = `http://127.0.0.1:${listener.port}`
    receiver = await startWebhookReceiver()
    base = receiver.base
    received = receiver.received
  })
  afterAll(async () => {
    close()
    await listener.close()
    await receiver.close()
  })
  beforeEach(async () => {
    received.length = 0
    rest.length = 0
    await fetch(`${simUrl}/sim/reset`, { method: "POST" })
  })

  /** Every REST answer so far fits Twilio's schemas; every status callback so far carries Twilio's documented parameters. */
  const allConform = () => {
    expect(rest.map(problemsOf).filter((problem) => problem !== undefined)).toEqual([])
    checked.rest += rest.length
    const problems = received.filter((r) => r.path.startsWith("/status")).flatMap(callbackProblems)
    expect(problems).toEqual([])
    checked.callbacks += received.length
  }

  const client = () => simulatedTwilio(simUrl, ACCOUNT, TOKEN)
  const put = (path: string, body: unknown) => fetch(`${simUrl}${path}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const script = (number: string, body: unknown) => put(`/sim/numbers/${encodeURIComponent(number)}`, body)
  const callbacksOf = (sid: string) => received.filter((r) => r.path.startsWith("/status") && (r.params.CallSid === sid || r.params.MessageSid === sid))
  /** Statuses reported for a call or text; a call's in SequenceNumber order (callbacks are separate requests and may arrive out of order). */
  const statusesOf = (sid: string) =>
    callbacksOf(sid)
      .toSorted((x, y) => Number(x.params.SequenceNumber ?? 0) - Number(y.params.SequenceNumber ?? 0))
      .map((r) => r.params.CallStatus ?? r.params.MessageStatus)
  const settled = (sid: string, final: string) => eventually(async () => (statusesOf(sid).includes(final) ? callbacksOf(sid) : undefined), 5_000, `${sid} ${final}`)
  const call = (to: string, extra: Json = {}) =>
    client().calls.create({ to, from: FROM, url: `${base}/voice/${to}`, statusCallback: `${base}/status/${to}`, statusCallbackEvent: EVERY_EVENT, ...extra })

  it("Twilio's own examples pass the checks, and the checks bite", () => {
    for (const [id, operation] of Object.entries(api.operations)) {
      for (const [name, example] of Object.entries(operation.examples)) {
        const validate = validatorOf(id as OperationId)
        expect(validate(example), `${id} ${name}: ${ajv.errorsText(validate.errors)}`).toBe(true)
      }
    }
    const example = api.operations.FetchCall.examples.fetch as Json
    expect(validatorOf("FetchCall")({ ...example, status: "initiated" })).toBe(false) // not in Twilio's enum
    expect(validatorOf("FetchCall")({ ...example, error_code: null })).toBe(false) // not a field of a call
    const { subresource_uris: _, ...missing } = example
    expect(validatorOf("FetchCall")(missing)).toBe(false)
    expect(validatorOf("error")({ code: 21211, message: "x", status: 400 })).toBe(false)
    expect(api.enums.callStatus).not.toContain("initiated")
    expect(callbackProblems({ path: "/status", headers: {}, params: { MessageSid: "SM1", MessageStatus: "sent", SequenceNumber: "0" } })).not.toEqual([])
  })

  it("a call answered, one busy, one unanswered, one failing with a code: REST shapes, statuses and callbacks as Twilio's", async () => {
    await script("+4930100001", { outcome: "answered", afterMs: 60, talkMs: 100 })
    await script("+4930100002", { outcome: "busy", afterMs: 60 })
    await script("+4930100003", { outcome: "no-answer", afterMs: 60 })
    await script("+4930100004", { errorCode: 32009, afterMs: 60 })
    const [answered, busy, unanswered, failed] = await Promise.all(["+4930100001", "+4930100002", "+4930100003", "+4930100004"].map((to) => call(to)))
    expect(answered?.status).toBe("queued")
    const sids = [answered, busy, unanswered, failed].map((c) => c?.sid ?? "")
    const [a, b, n, f] = sids as [string, string, string, string]
    await settled(a, "completed")
    await settled(b, "busy")
    await settled(n, "no-answer")
    const failure = await settled(f, "failed")
    expect(statusesOf(a)).toEqual(["initiated", "ringing", "in-progress", "completed"])
    expect(statusesOf(b)).toEqual(["initiated", "ringing", "busy"])
    // callbacks may arrive in any order (as Twilio's): the final one is the one that says failed
    expect(failure.find((r) => r.params.CallStatus === "failed")?.params).toMatchObject({ ErrorCode: "32009", CallDuration: "0" })
    expect(callbacksOf(a).map((r) => r.params.SequenceNumber).toSorted()).toEqual(["0", "1", "2", "3"])
    const fetched = await Promise.all(sids.map((sid) => client().calls(sid).fetch()))
    expect(fetched.map((c) => [c.status, c.duration])).toEqual([
      ["completed", "1"],
      ["busy", null],
      ["no-answer", null],
      ["failed", null]
    ])
    expect(await client().calls.list({ to: "+4930100002" })).toHaveLength(1)
    allConform()
  })

  it("fetch never shows 'initiated': a call still queued (queueMs) is queued with no start_time and is not listed by StartTime>", async () => {
    await script("+4930200001", { outcome: "answered", queueMs: 300, afterMs: 60, talkMs: 50 })
    const before = new Date(Date.now() - 1000)
    const created = await call("+4930200001")
    const queued = await client().calls(created.sid).fetch()
    expect(queued).toMatchObject({ status: "queued", startTime: null, duration: null })
    expect(await client().calls.list({ to: "+4930200001", startTimeAfter: before })).toEqual([])
    await settled(created.sid, "completed")
    expect(statusesOf(created.sid)).toEqual(["initiated", "ringing", "in-progress", "completed"])
    const listed = await client().calls.list({ to: "+4930200001", startTimeAfter: before })
    expect(listed.map((c) => c.sid)).toEqual([created.sid])
    expect(Number(listed[0]?.queueTime)).toBeGreaterThanOrEqual(300)
    // REST statuses seen along the way, through every kind of read
    const statuses = rest.flatMap((r) => (r.status >= 400 ? [] : "calls" in (r.body as Json) ? ((r.body as { calls: Array<Json> }).calls.map((c) => c.status)) : [(r.body as Json).status]))
    expect(statuses.every((s) => api.enums.callStatus.includes(String(s)))).toBe(true)
    allConform()
  })

  it("StatusCallbackEvent is honoured: none asked means 'completed' only; some asked means those only", async () => {
    await script("+4930300001", { outcome: "answered", afterMs: 50, talkMs: 50 })
    const plain = await client().calls.create({ to: "+4930300001", from: FROM, url: `${base}/voice/p`, statusCallback: `${base}/status/p` })
    const ringing = await call("+4930300001", { statusCallbackEvent: ["ringing", "completed"] })
    await settled(plain.sid, "completed")
    await settled(ringing.sid, "completed")
    expect(statusesOf(plain.sid)).toEqual(["completed"])
    expect(callbacksOf(plain.sid)[0]?.params.SequenceNumber).toBe("0")
    expect(statusesOf(ringing.sid)).toEqual(["ringing", "completed"])
    expect(received.some((r) => r.path === "/voice/p")).toBe(true) // the voice URL is fetched whatever the events
    allConform()
  })

  it("an answering machine: AnsweredBy when the create asked for MachineDetection, answered_by in REST; none otherwise", async () => {
    await script("+4930400001", { outcome: "answered", answeredBy: "machine", afterMs: 50, talkMs: 50 })
    const detected = await call("+4930400001", { machineDetection: "Enable" })
    const undetected = await call("+4930400001")
    await settled(detected.sid, "completed")
    await settled(undetected.sid, "completed")
    expect(received.find((r) => r.path === "/voice/+4930400001" && r.params.CallSid === detected.sid)?.params.AnsweredBy).toBe("machine_start")
    expect(callbacksOf(detected.sid).at(-1)?.params.AnsweredBy).toBe("machine_start")
    expect((await client().calls(detected.sid).fetch()).answeredBy).toBe("machine_start")
    expect((await client().calls(undetected.sid).fetch()).answeredBy).toBeNull()
    expect(callbacksOf(undetected.sid).every((r) => r.params.AnsweredBy === undefined)).toBe(true)
    allConform()
  })

  it("texts: create, fetch (a 404 before this change), delivery, and failures with their codes, without SequenceNumber", async () => {
    await script("+4917600000002", { errorCode: 30003 })
    await script("+4917600000003", { errorCode: 21610 })
    const [ok, undelivered, failed] = await Promise.all(
      ["+4917600000001", "+4917600000002", "+4917600000003"].map((to) => client().messages.create({ to, from: FROM, body: "code 123456", statusCallback: `${base}/status/sms` }))
    )
    const sids = [ok, undelivered, failed].map((m) => m?.sid ?? "") as [string, string, string]
    expect((await client().messages(sids[0]).fetch()).status).toMatch(/^(queued|sent|delivered)$/)
    await settled(sids[0], "delivered")
    await settled(sids[1], "undelivered")
    await settled(sids[2], "failed")
    expect(statusesOf(sids[1]).toSorted()).toEqual(["sent", "undelivered"]) // texts carry no SequenceNumber: arrival order is not guaranteed
    expect(statusesOf(sids[2])).toEqual(["failed"])
    expect(callbacksOf(sids[1]).at(-1)?.params.ErrorCode).toBe("30003")
    const fetched = await Promise.all(sids.map((sid) => client().messages(sid).fetch()))
    expect(fetched.map((m) => [m.status, m.errorCode])).toEqual([
      ["delivered", null],
      ["undelivered", 30003],
      ["failed", 21610]
    ])
    expect(fetched[0]?.dateSent).toBeInstanceOf(Date)
    await expect(client().messages("SM" + "0".repeat(32)).fetch()).rejects.toMatchObject({ status: 404, code: 20404 })
    allConform()
  })

  it("bad creates answer Twilio's codes, in Twilio's error body", async () => {
    const codes = restErrorFixture.createErrors
    const post = (resource: string, params: Record<string, string>) =>
      fetch(`${simUrl}/2010-04-01/Accounts/${ACCOUNT}/${resource}.json`, { method: "POST", headers: { ...AUTH, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params) })
    const codeOf = async (response: Promise<Response>) => ((await (await response).json()) as { code: number }).code
    const url = `${base}/voice`
    expect(await codeOf(post("Calls", { From: FROM, Url: url }))).toBe(codes.calls.missingTo)
    expect(await codeOf(post("Calls", { To: "12345", From: FROM, Url: url }))).toBe(codes.calls.invalidTo)
    expect(await codeOf(post("Calls", { To: "+4930123456", Url: url }))).toBe(codes.calls.missingFrom)
    expect(await codeOf(post("Calls", { To: "+4930123456", From: "nobody", Url: url }))).toBe(codes.calls.invalidFrom)
    expect(await codeOf(post("Messages", { From: FROM, Body: "x" }))).toBe(codes.messages.missingTo)
    expect(await codeOf(post("Messages", { To: "555", From: FROM, Body: "x" }))).toBe(codes.messages.invalidTo)
    expect(await codeOf(post("Messages", { To: "+4917612345678", Body: "x" }))).toBe(codes.messages.missingFrom)
    expect(await codeOf(post("Messages", { To: "+4917612345678", From: "x", Body: "x" }))).toBe(codes.messages.invalidFrom)
    expect(await codeOf(post("Messages", { To: "+4917612345678", From: FROM }))).toBe(codes.messages.missingBody)
    expect(await codeOf(post("Messages", { To: "+4917612345678", From: FROM, Body: "x".repeat(1601) }))).toBe(codes.messages.bodyTooLong)
    await expect(simulatedTwilio(simUrl, ACCOUNT, "wrong").calls.list({})).rejects.toMatchObject({ status: 401, code: 20003 })
    await expect(client().calls("CA" + "0".repeat(32)).fetch()).rejects.toMatchObject({ status: 404, code: 20404 })
    await put("/sim/faults", { calls: { status: 503, count: 1 }, messages: { status: 429, count: 1 } })
    await expect(call("+4930123456")).rejects.toMatchObject({ status: 503 })
    await expect(client().messages.create({ to: "+4917612345678", from: FROM, body: "x" })).rejects.toMatchObject({ status: 429 })
    expect(rest.filter((r) => r.status >= 400)).toHaveLength(14)
    allConform()
  })

  it("webhook retries: each status callback delivered again with the same I-Twilio-Idempotency-Token, a new token per logical delivery", async () => {
    expect((await put("/sim/faults", { webhookRetries: 9 })).status).toBe(400)
    expect((await put("/sim/faults", { webhookRetries: 2 })).status).toBe(200)
    await script("+4930500001", { outcome: "answered", afterMs: 50, talkMs: 50 })
    const created = await call("+4930500001")
    const text = await client().messages.create({ to: "+4917600000009", from: FROM, body: "hi", statusCallback: `${base}/status/sms` })
    await eventually(async () => (callbacksOf(created.sid).length === 12 && callbacksOf(text.sid).length === 6 ? true : undefined), 5_000, "every delivery")
    for (const sid of [created.sid, text.sid]) {
      const byToken = new Map<string, Array<Callback>>()
      for (const r of callbacksOf(sid)) {
        const token = String(r.headers["i-twilio-idempotency-token"])
        byToken.set(token, [...(byToken.get(token) ?? []), r])
      }
      for (const copies of byToken.values()) {
        expect(copies).toHaveLength(3)
        expect(new Set(copies.map((r) => JSON.stringify(r.params))).size).toBe(1)
      }
      expect(byToken.size).toBe(sid === created.sid ? 4 : 2)
    }
    const voice = received.filter((r) => r.path.startsWith("/voice"))
    expect(voice).toHaveLength(1) // the TwiML fetch is not a status callback: not redelivered
    expect(voice[0]?.headers["i-twilio-idempotency-token"]).toMatch(/\S/)
    allConform()
  })

  it("calls(sid).update: the Call resource as a fetch shows it, a canceled call's report as Twilio documents it, 21220 in Twilio's error body", async () => {
    await script("+4930600001", { outcome: "answered", afterMs: 50, talkMs: 600_000 })
    await script("+4930600002", { outcome: "answered", queueMs: 600_000 })
    const talking = await call("+4930600001")
    const waiting = await call("+4930600002")
    await settled(talking.sid, "in-progress")
    expect((await client().calls(talking.sid).update({ twiml: "<Response><Say>Still there?</Say></Response>" })).status).toBe("in-progress")
    expect(await client().calls(talking.sid).update({ status: "completed" })).toMatchObject({ status: "completed", duration: "1" })
    expect((await client().calls(waiting.sid).update({ status: "canceled" })).status).toBe("canceled")
    await settled(talking.sid, "completed")
    const canceled = await settled(waiting.sid, "canceled")
    expect(canceled.map((r) => r.params.CallStatus)).toEqual(["canceled"])
    await expect(client().calls(waiting.sid).update({ status: "completed" })).rejects.toMatchObject({ status: 400, code: 21220 })
    expect(rest.filter((r) => r.method === "POST" && r.path.includes("/Calls/"))).toHaveLength(4)
    allConform()
  })

  it("(runs last) every test above had its REST answers and callbacks checked", () => {
    expect(checked.rest).toBeGreaterThan(30)
    expect(checked.callbacks).toBeGreaterThan(30)
  })
})

/** What is wrong with a status callback's parameters, by Twilio's documented lists. */
function callbackProblems(callback: Callback): ReadonlyArray<string> {
  const voice = callback.params.CallSid !== undefined
  const list = voice ? callbackFixture.voice : callbackFixture.messaging
  const status = (voice ? callback.params.CallStatus : callback.params.MessageStatus) ?? ""
  const final = voice && callbackFixture.voice.finalStatuses.includes(status)
  const failed = voice ? status === "failed" && callback.params.ErrorCode !== undefined : callbackFixture.messaging.failureStatuses.includes(status)
  const names = Object.keys(callback.params)
  const expected = [...list.always, ...(final ? list.final : []), ...(failed ? list.failure : [])]
  const allowed = new Set([...expected, ...list.optional])
  const problems = [
    ...expected.filter((name) => !names.includes(name)).map((name) => `${status} lacks ${name}`),
    ...names.filter((name) => !allowed.has(name)).map((name) => `${status} carries ${name}, which Twilio does not document here`),
    ...list.never.filter((name) => names.includes(name)).map((name) => `${status} carries ${name}`)
  ]
  if (voice && !final) problems.push(...list.final.filter((name) => names.includes(name)).map((name) => `${status} is not final but carries ${name}`))
  if (voice && callback.params.CallbackSource !== callbackFixture.voice.callbackSource) problems.push(`CallbackSource ${callback.params.CallbackSource}`)
  if (callback.headers["i-twilio-idempotency-token"] === undefined && callback.path !== "/status") problems.push("no I-Twilio-Idempotency-Token")
  return problems
}
