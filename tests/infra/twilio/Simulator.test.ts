/**
 * The simulator as the real twilio SDK sees it: REST calls through a
 * RequestClient pointed at it (create, fetch, list with filters and pages),
 * status callbacks signed so that `twilio.validateRequest` accepts them, in
 * Twilio's order with SequenceNumber, and faults for creates and reads.
 */
import twilio from "twilio"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type RunningSimulator, startSimulator } from "../../../infra/twilio/Simulator.ts"
import { simulatedTwilio } from "../../../infra/twilio/SimulatorClient.ts"
import { makePlayback } from "../../../infra/twilio/simulator/CallPlayback.ts"
import type { Deliver } from "../../../infra/twilio/simulator/Callbacks.ts"
import { defaultScript, makeState, type SimCall, type SimulatorState } from "../../../infra/twilio/simulator/Model.ts"
import { eventually } from "../../support/database.ts"
import { type ReceivedWebhook, startWebhookReceiver } from "../../support/webhookReceiver.ts"

const ACCOUNT = "AC" + "0".repeat(32)
const TOKEN = "simulator-test-auth-token"
const FROM = "+15005550006"
const EVERY_EVENT = ["initiated", "ringing", "answered", "completed"]

describe("the Twilio simulator", () => {
  let sim: RunningSimulator
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>
  let base: string
  let received: Array<ReceivedWebhook> = []
  /** Whether a callback's X-Twilio-Signature is valid for the URL it was sent to. */
  const isSigned = (r: ReceivedWebhook) => twilio.validateRequest(TOKEN, String(r.headers["x-twilio-signature"]), base + r.path, r.params)

  beforeAll(async () => {
    sim = await startSimulator({ accountSid: ACCOUNT, authToken: TOKEN, port: 0 })
    receiver = await startWebhookReceiver()
    base = receiver.base
    received = receiver.received
  })
  afterAll(async () => {
    await sim.close()
    await receiver.close()
  })
  beforeEach(async () => {
    received.length = 0
    await fetch(`${sim.url}/sim/reset`, { method: "POST" })
  })

  const client = () => simulatedTwilio(sim.url, ACCOUNT, TOKEN)
  const statusesOf = (callSid: string) =>
    received
      .filter((r) => r.path.startsWith("/status") && r.params.CallSid === callSid)
      .map((r) => [r.params.CallStatus, r.params.SequenceNumber])
      .toSorted(([, x], [, y]) => Number(x) - Number(y)) // separate requests: they may arrive out of order
  const script = (number: string, body: unknown) =>
    fetch(`${sim.url}/sim/numbers/${encodeURIComponent(number)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const faults = (body: unknown) => fetch(`${sim.url}/sim/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const stats = async () => (await (await fetch(`${sim.url}/sim/stats`)).json()) as { calls: number; requests: { calls: number; messages: number; callReads: number } }

  it("places a call, fetches its voice URL on answer, and reports every status, signed and in sequence", async () => {
    await script("+4930123456", { outcome: "answered", afterMs: 100, talkMs: 100 })
    const call = await client().calls.create({ to: "+4930123456", from: FROM, url: `${base}/voice/a1`, statusCallback: `${base}/status/a1`, statusCallbackEvent: EVERY_EVENT })
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/)
    expect(call.status).toBe("queued")
    await eventually(async () => (statusesOf(call.sid).some(([s]) => s === "completed") ? true : undefined), 5_000, "the completed callback")
    expect(statusesOf(call.sid)).toEqual([
      ["initiated", "0"],
      ["ringing", "1"],
      ["in-progress", "2"],
      ["completed", "3"]
    ])
    expect(received.every(isSigned)).toBe(true)
    expect(received.find((r) => r.path === "/voice/a1")?.params.CallSid).toBe(call.sid)
    const listed = (await (await fetch(`${sim.url}/sim/calls?to=${encodeURIComponent("+4930123456")}`)).json()) as Array<Record<string, unknown>>
    expect(listed).toMatchObject([{ sid: call.sid, status: "completed", twiml: "<Response><Say>hello</Say></Response>", said: ["hello"] }])
    expect(listed[0]?.twimlError).toBeUndefined()
  })

  it("reads the voice URL's answer as Twilio would: a document that is not well-formed is recorded as such, nothing said", async () => {
    await script("+4930123457", { outcome: "answered", afterMs: 60, talkMs: 60 })
    const call = await client().calls.create({ to: "+4930123457", from: FROM, url: `${base}/voice-broken`, statusCallback: `${base}/status/c` })
    await eventually(async () => (statusesOf(call.sid).some(([s]) => s === "completed") ? true : undefined), 5_000, "the completed callback")
    const listed = (await (await fetch(`${sim.url}/sim/calls?to=${encodeURIComponent("+4930123457")}`)).json()) as Array<Record<string, unknown>>
    expect(listed).toMatchObject([{ sid: call.sid, said: [], twimlError: "TwiML is not well-formed at offset 19: an & that starts no reference" }])
  })

  it("plays a scripted busy number, and a tampered signature does not validate", async () => {
    await script("+4930999999", { outcome: "busy", afterMs: 60 })
    const call = await client().calls.create({ to: "+4930999999", from: FROM, url: `${base}/voice/b`, statusCallback: `${base}/status/b`, statusCallbackEvent: EVERY_EVENT })
    await eventually(async () => (statusesOf(call.sid).some(([s]) => s === "busy") ? true : undefined), 5_000, "the busy callback")
    expect(statusesOf(call.sid).map(([s]) => s)).toEqual(["initiated", "ringing", "busy"])
    const busy = received.find((r) => r.params.CallStatus === "busy")
    expect(busy).toBeDefined()
    if (busy !== undefined) {
      const signature = twilio.getExpectedTwilioSignature(TOKEN, `${base}${busy.path}`, busy.params)
      expect(twilio.validateRequest(TOKEN, signature, `${base}${busy.path}`, { ...busy.params, CallStatus: "completed" })).toBe(false)
    }
  })

  it("sends messages, lists them newest first and reports their delivery", async () => {
    const first = await client().messages.create({ to: "+4917612345678", from: FROM, body: "code 123456", statusCallback: `${base}/sms` })
    await client().messages.create({ to: "+4917612345678", from: FROM, body: "second" })
    const listed = (await (await fetch(`${sim.url}/sim/messages?to=${encodeURIComponent("+4917612345678")}`)).json()) as Array<{ body: string }>
    expect(listed.map((m) => m.body)).toEqual(["second", "code 123456"])
    await eventually(async () => (received.some((r) => r.params.MessageStatus === "delivered") ? true : undefined), 5_000, "delivery")
    expect(received.filter((r) => r.params.MessageSid === first.sid).map((r) => r.params.MessageStatus)).toEqual(["sent", "delivered"])
  })

  it("answers like Twilio to bad requests: invalid number 21211, bad credentials 20003", async () => {
    await expect(client().calls.create({ to: "12345", from: FROM, url: `${base}/voice` })).rejects.toMatchObject({ status: 400, code: 21211 })
    await expect(simulatedTwilio(sim.url, ACCOUNT, "wrong-token").messages.create({ to: "+4917612345678", from: FROM, body: "x" })).rejects.toMatchObject({ status: 401, code: 20003 })
  })

  it("injects faults: a counted 503, then the ambiguous create-then-fail", async () => {
    await fetch(`${sim.url}/sim/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ calls: { status: 503, count: 2 } }) })
    const attempt = () => client().calls.create({ to: "+4930123456", from: FROM, url: `${base}/voice` })
    await expect(attempt()).rejects.toMatchObject({ status: 503 })
    await expect(attempt()).rejects.toMatchObject({ status: 503 })
    expect((await attempt()).sid).toMatch(/^CA/)
    await fetch(`${sim.url}/sim/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ createThenFail: true }) })
    await expect(attempt()).rejects.toMatchObject({ status: 500 })
    const stats = (await (await fetch(`${sim.url}/sim/stats`)).json()) as { calls: number; maxConcurrentCalls: Record<string, number> }
    expect(stats.calls).toBe(2) // the 503s created nothing; the ambiguous one did
    expect(stats.maxConcurrentCalls["+4930123456"]).toBe(2)
    expect((await fetch(`${sim.url}/sim/faults`, { method: "DELETE" })).status).toBe(204)
  })

  it("refuses malformed scripts and faults with a 400", async () => {
    expect((await script("+4930123456", { outcome: "maybe" })).status).toBe(400)
    expect((await script("not-a-number", { outcome: "busy" })).status).toBe(400)
    expect((await faults({ calls: { status: 418 } })).status).toBe(400)
    expect((await faults({ calls: { status: 429, reads: true } })).status).toBe(400) // reads fail with 500 or 503 only
    expect((await faults({ calls: { status: 503, reads: "yes" } })).status).toBe(400)
    expect((await faults({ messages: { status: 503, reads: true } })).status).toBe(400) // messages have no reads
  })

  it("fetches a call in Twilio's shape through the SDK, before and after it ends", async () => {
    await script("+4930123456", { outcome: "answered", afterMs: 60, talkMs: 100 })
    const before = Date.now()
    const created = await client().calls.create({ to: "+4930123456", from: FROM, url: `${base}/voice/f`, statusCallback: `${base}/status/f` })
    const queued = await client().calls(created.sid).fetch()
    expect(queued).toMatchObject({ sid: created.sid, accountSid: ACCOUNT, to: "+4930123456", from: FROM, direction: "outbound-api", duration: null, endTime: null })
    expect(queued.dateCreated.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000) // RFC 2822: whole seconds
    expect(queued.uri).toBe(`/2010-04-01/Accounts/${ACCOUNT}/Calls/${created.sid}.json`)
    const ended = await eventually(async () => {
      const call = await client().calls(created.sid).fetch()
      return call.status === "completed" ? call : undefined
    }, 5_000, "the call to complete")
    expect(ended.duration).toBe("1")
    expect(ended.startTime).toBeInstanceOf(Date)
    expect(ended.endTime).toBeInstanceOf(Date)
    expect(ended.dateUpdated.getTime()).toBeGreaterThanOrEqual(ended.dateCreated.getTime())
  })

  it("answers a fetch of an unknown call with Twilio's 404 (20404), and a fetch with bad credentials with 401", async () => {
    await expect(client().calls("CA" + "f".repeat(32)).fetch()).rejects.toMatchObject({ status: 404, code: 20404 })
    await expect(simulatedTwilio(sim.url, ACCOUNT, "wrong-token").calls.list({})).rejects.toMatchObject({ status: 401, code: 20003 })
    expect((await stats()).requests).toEqual({ calls: 0, messages: 0, callReads: 2, messageReads: 0, callUpdates: 0 })
  })

  it("lists calls newest first, filtered by To, From, Status and StartTime> (the call's start: a queued call is not listed), across pages", async () => {
    const before = new Date()
    await script("+4930333333", { outcome: "answered", queueMs: 600_000 })
    const make = (to: string, from = FROM) => client().calls.create({ to, from, url: `${base}/voice/l` })
    const first = await make("+4930111111")
    const second = await make("+4930111111")
    const other = await make("+4930111111", "+15005550001")
    await make("+4930222222")
    const waiting = await make("+4930333333")
    const sids = (calls: ReadonlyArray<{ sid: string }>) => calls.map((call) => call.sid)
    const started = await eventually(async () => {
      const listed = await client().calls.list({ to: "+4930111111", startTimeAfter: before })
      return listed.length === 3 ? listed : undefined
    }, 5_000, "the three calls to start")
    expect(sids(started)).toEqual([other.sid, second.sid, first.sid])
    // still queued: no start_time, so StartTime> leaves it out, while a list without it finds it
    expect(await client().calls.list({ to: "+4930333333", startTimeAfter: before })).toEqual([])
    expect(sids(await client().calls.list({ to: "+4930333333" }))).toEqual([waiting.sid])
    expect(await client().calls.list({ to: "+4930333333", status: "queued" })).toHaveLength(1)
    expect(sids(await client().calls.list({ to: "+4930111111", from: FROM }))).toEqual([second.sid, first.sid])
    expect(sids(await client().calls.list({ to: "+4930111111", from: FROM, pageSize: 1 }))).toEqual([second.sid, first.sid]) // follows next_page_uri
    expect(await client().calls.list({ to: "+4930111111", startTimeAfter: new Date(Date.now() + 60_000) })).toEqual([])
    expect(await client().calls.list({ to: "+4930111111", startTimeBefore: new Date(before.getTime() - 60_000) })).toEqual([])
    expect(await client().calls.list({ to: "+4930111111", status: "completed" })).toEqual([])
    expect(await client().calls.list({ parentCallSid: "CA" + "0".repeat(32) })).toEqual([])
    expect(await client().calls.list({})).toHaveLength(5)
    const page = (await (await fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT}/Calls.json?To=${encodeURIComponent("+4930111111")}&PageSize=2`, {
      headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}` }
    })).json()) as Record<string, unknown>
    expect(page).toMatchObject({ page: 0, page_size: 2, start: 0, end: 1, previous_page_uri: null })
    expect(page.next_page_uri).toMatch(/Page=1/)
  })

  it("refuses list parameters it cannot read, rather than ignoring them", async () => {
    const get = (query: string) =>
      fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT}/Calls.json?${query}`, { headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}` } })
    expect((await get("StartTime%3E=yesterday")).status).toBe(400)
    expect((await get("EndTime%3C=31-12-2026")).status).toBe(400)
    await expect(client().calls.list({ pageSize: 5000 })).rejects.toMatchObject({ status: 400 })
  })

  it("fails reads only when the fault says reads, counting GETs apart from creates", async () => {
    await faults({ calls: { status: 503 } })
    await expect(client().calls.create({ to: "+4930123456", from: FROM, url: `${base}/voice` })).rejects.toMatchObject({ status: 503 })
    expect(await client().calls.list({ to: "+4930123456" })).toEqual([]) // a create fault leaves reads alone
    await faults({ calls: { status: 500, reads: true } })
    await expect(client().calls.list({ to: "+4930123456" })).rejects.toMatchObject({ status: 500 })
    await expect(client().calls("CA" + "f".repeat(32)).fetch()).rejects.toMatchObject({ status: 500 })
    await expect(client().calls.create({ to: "+4930123456", from: FROM, url: `${base}/voice` })).rejects.toMatchObject({ status: 500 })
    await faults({ calls: { status: 503, count: 1, reads: true } }) // one faulty answer, whichever request gets it
    await expect(client().calls.list({})).rejects.toMatchObject({ status: 503 })
    expect(await client().calls.list({})).toEqual([])
    expect(await stats()).toMatchObject({ calls: 0, requests: { calls: 2, callReads: 5 } })
  })
})

describe("the simulator's call playback", () => {
  it("plays a call's steps in order whatever order due timers run in (Node runs one length's list before the next when it is late)", async () => {
    const pending: Array<{ readonly ms: number; readonly f: () => void | Promise<void> }> = []
    const state: SimulatorState = { ...makeState({ accountSid: "AC" + "1".repeat(32), authToken: "t" }), later: (ms, f) => void pending.push({ ms, f }) }
    state.scripts.set("+4930777777", { ...defaultScript, outcome: "busy", afterMs: 60 })
    const deliver = (async () => undefined) as unknown as Deliver
    const call: SimCall = {
      sid: "CA" + "2".repeat(32), to: "+4930777777", from: FROM, phase: "queued", statusCallback: undefined, events: new Set(), url: undefined, machineDetection: undefined,
      createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), startedAt: undefined, answeredAt: undefined, endedAt: undefined, durationSeconds: undefined,
      answeredBy: undefined, errorCode: undefined, twiml: undefined, documents: [], said: [], gathered: [], dialed: [], twimlError: undefined, sequence: 0
    }
    makePlayback(state, deliver).start(call)
    const phases: Array<string> = []
    // the worst order: whatever is due runs longest timer first
    while (pending.length > 0) {
      const due = pending.splice(0).toSorted((a, b) => b.ms - a.ms)
      for (const timer of due) {
        await timer.f()
        phases.push(call.phase)
      }
    }
    expect(phases).toEqual(["initiated", "ringing", "busy"])
  })
})

