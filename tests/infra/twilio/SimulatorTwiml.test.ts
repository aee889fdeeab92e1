/**
 * The simulator executing a call's TwiML as Twilio does, over real HTTP and
 * the real twilio SDK: scripted keys heard by `<Gather>`, its action
 * requested and answered, `<Redirect>`, `<Hangup/>`, `<Dial>`, a bounded
 * redirect loop; and Twilio's call update (`calls(sid).update`): hang up,
 * cancel, replace what plays, refuse an ended call. A unit test drives the
 * timers by hand to show a call ends once, whatever ends it first.
 */
import { createServer } from "node:http"
import twilio from "twilio"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type RunningSimulator, startSimulator } from "../../../infra/twilio/Simulator.ts"
import { simulatedTwilio } from "../../../infra/twilio/SimulatorClient.ts"
import { makePlayback } from "../../../infra/twilio/simulator/CallPlayback.ts"
import type { Deliver } from "../../../infra/twilio/simulator/Callbacks.ts"
import { defaultScript, makeState, type SimCall, type SimulatorState } from "../../../infra/twilio/simulator/Model.ts"
import { eventually } from "../../support/database.ts"

const ACCOUNT = "AC" + "3".repeat(32)
const TOKEN = "twiml-test-auth-token"
const FROM = "+15005550006"
const EVERY_EVENT = ["initiated", "ringing", "answered", "completed"]

interface Received {
  readonly method: string
  /** Path and query. */
  readonly path: string
  readonly params: Record<string, string>
  readonly signature: string
}

/** What the app's TwiML endpoints answer, by path (without the query); anything else gets 204. */
type Answers = Record<string, (params: Record<string, string>) => string>

/** A stand-in for the app: records every request and answers the TwiML a test scripts for its path. */
const startApp = async () => {
  const received: Array<Received> = []
  const answers: Answers = {}
  const server = createServer((request, response) => {
    let body = ""
    request.on("data", (chunk: Buffer) => (body += chunk.toString()))
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://app")
      const params = Object.fromEntries(request.method === "GET" ? url.searchParams : new URLSearchParams(body))
      received.push({ method: request.method ?? "", path: request.url ?? "", params, signature: String(request.headers["x-twilio-signature"]) })
      const answer = answers[url.pathname]
      if (answer === undefined) response.writeHead(204).end()
      else response.writeHead(200, { "content-type": "text/xml" }).end(`<?xml version="1.0" encoding="UTF-8"?><Response>${answer(params)}</Response>`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  return {
    base: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
    received,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/** A call as `GET /sim/calls` shows it. */
interface Listed {
  readonly sid: string
  readonly status: string
  readonly documents: ReadonlyArray<{ readonly url?: string; readonly twiml: string }>
  readonly said: ReadonlyArray<string>
  readonly gathered: ReadonlyArray<string>
  readonly dialed: ReadonlyArray<string>
  readonly twimlError?: string
}

describe("the simulator executing TwiML", () => {
  let sim: RunningSimulator
  let app: Awaited<ReturnType<typeof startApp>>

  beforeAll(async () => {
    sim = await startSimulator({ accountSid: ACCOUNT, authToken: TOKEN, port: 0 })
    app = await startApp()
  })
  afterAll(async () => {
    await sim.close()
    await app.close()
  })
  beforeEach(async () => {
    app.received.length = 0
    for (const path of Object.keys(app.answers)) delete app.answers[path]
    await fetch(`${sim.url}/sim/reset`, { method: "POST" })
  })

  const client = () => simulatedTwilio(sim.url, ACCOUNT, TOKEN)
  const script = (number: string, body: unknown) =>
    fetch(`${sim.url}/sim/numbers/${encodeURIComponent(number)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const call = (to: string) =>
    client().calls.create({ to, from: FROM, url: `${app.base}/voice/menu`, statusCallback: `${app.base}/status`, statusCallbackEvent: EVERY_EVENT })
  const listed = async (sid: string): Promise<Listed> => {
    const calls = (await (await fetch(`${sim.url}/sim/calls`)).json()) as ReadonlyArray<Listed>
    const found = calls.find((c) => c.sid === sid)
    if (found === undefined) throw new Error(`no call ${sid}`)
    return found
  }
  const requestsTo = (path: string) => app.received.filter((r) => r.path.split("?")[0] === path)
  /** The status callbacks of a call, in SequenceNumber order. */
  const statusesOf = (sid: string) =>
    app.received
      .filter((r) => r.path === "/status" && r.params.CallSid === sid)
      .toSorted((x, y) => Number(x.params.SequenceNumber) - Number(y.params.SequenceNumber))
      .map((r) => r.params.CallStatus)
  const ended = (sid: string, final = "completed") => eventually(async () => (statusesOf(sid).includes(final) ? listed(sid) : undefined), 5_000, `${sid} ${final}`)
  const inProgress = (sid: string) => eventually(async () => (statusesOf(sid).includes("in-progress") ? true : undefined), 5_000, `${sid} answered`)
  /** Whether a request the app received carries a valid X-Twilio-Signature (a GET's covers its query). */
  const isSigned = (r: Received) => twilio.validateRequest(TOKEN, r.signature, app.base + r.path, r.method === "GET" ? {} : r.params)

  /** The app's keypad menu: press 2 to be connected; no key: goodbye. */
  const menu = () => {
    app.answers["/voice/menu"] = () =>
      `<Say>Callback request.</Say><Gather input="dtmf" numDigits="1" action="choice?menu=main" method="POST"><Say>Press 2 to connect.</Say></Gather><Say>Goodbye.</Say><Hangup/>`
    app.answers["/voice/choice"] = (params) => (params.Digits === "2" ? `<Say>Connecting.</Say><Dial callerId="${FROM}"><Number>+4930555001</Number></Dial>` : `<Say>Unknown key.</Say><Hangup/>`)
  }

  it("a Gather hears the scripted key: its action (resolved against the document) gets Digits, signed, and its answer is executed", async () => {
    menu()
    await script("+4930600001", { afterMs: 50, talkMs: 100, digits: "2" })
    const created = await call("+4930600001")
    const done = await ended(created.sid)
    const [choice] = requestsTo("/voice/choice")
    expect(choice).toMatchObject({ method: "POST", path: "/voice/choice?menu=main", params: { CallSid: created.sid, Digits: "2", FinishedOnKey: "", CallStatus: "in-progress" } })
    expect(app.received.filter((r) => r.path.startsWith("/voice")).every(isSigned)).toBe(true)
    expect(done).toMatchObject({
      status: "completed",
      said: ["Callback request.", "Press 2 to connect.", "Connecting."], // not "Goodbye.": the rest of the menu document is replaced
      gathered: ["2"],
      dialed: ["+4930555001"]
    })
    expect(done.documents.map((d) => d.url)).toEqual([`${app.base}/voice/menu`, `${app.base}/voice/choice?menu=main`])
    expect(done.twimlError).toBeUndefined()
    expect(statusesOf(created.sid)).toEqual(["initiated", "ringing", "in-progress", "completed"])
  })

  it("no key scripted: the Gather hears nothing, the verbs after it run, and <Hangup/> ends the call at once, completed once", async () => {
    menu()
    await script("+4930600002", { afterMs: 50, talkMs: 600_000 }) // only the Hangup can end it within the test
    const created = await call("+4930600002")
    const done = await ended(created.sid)
    expect(requestsTo("/voice/choice")).toEqual([])
    expect(done).toMatchObject({ said: ["Callback request.", "Press 2 to connect.", "Goodbye."], gathered: [], dialed: [] })
    expect(statusesOf(created.sid)).toEqual(["initiated", "ringing", "in-progress", "completed"])
    const final = app.received.find((r) => r.path === "/status" && r.params.CallStatus === "completed")
    expect(final?.params).toMatchObject({ CallDuration: "1", SipResponseCode: "200" })
    expect((await client().calls(created.sid).fetch()).duration).toBe("1")
  })

  it("each Gather takes the next entry: the default action is the document's own URL, finishOnKey ends the keys, method GET puts them in the query", async () => {
    app.answers["/voice/menu"] = (params) =>
      params.Digits === undefined
        ? `<Gather numDigits="4"><Say>Your code, then hash.</Say></Gather><Say>Nothing pressed.</Say>`
        : `<Say>Code ${params.Digits}.</Say><Gather numDigits="1" action="/voice/confirm" method="GET"><Pause length="3"/></Gather><Say>Not confirmed.</Say>`
    app.answers["/voice/confirm"] = (params) => `<Say>Confirmed with ${params.Digits}.</Say>`
    await script("+4930600003", { afterMs: 50, talkMs: 50, digits: ["12#9", "15"] })
    const created = await call("+4930600003")
    const done = await ended(created.sid)
    const menus = requestsTo("/voice/menu")
    expect(menus.map((r) => [r.params.Digits, r.params.FinishedOnKey])).toEqual([
      [undefined, undefined],
      ["12", "#"]
    ])
    const [confirm] = requestsTo("/voice/confirm")
    expect(confirm?.method).toBe("GET")
    expect(confirm?.params).toMatchObject({ CallSid: created.sid, Digits: "1" }) // numDigits 1: the 5 is not heard
    expect(confirm !== undefined && isSigned(confirm)).toBe(true)
    expect(done).toMatchObject({ said: ["Your code, then hash.", "Code 12.", "Confirmed with 1."], gathered: ["12", "1"] })
  })

  it("follows <Redirect>: the verbs after it are not executed", async () => {
    app.answers["/voice/menu"] = () => `<Say>Before.</Say><Redirect method="POST">../next/step</Redirect><Say>Never.</Say>`
    app.answers["/next/step"] = (params) => `<Say>After, for ${params.CallSid}.</Say><Dial>+4930555002</Dial>`
    await script("+4930600004", { afterMs: 50, talkMs: 50 })
    const created = await call("+4930600004")
    const done = await ended(created.sid)
    expect(done).toMatchObject({ said: ["Before.", `After, for ${created.sid}.`], dialed: ["+4930555002"] })
    expect(requestsTo("/next/step")).toHaveLength(1)
  })

  it("stops a redirect loop after 20 documents, says why, and the call still ends", async () => {
    app.answers["/voice/menu"] = () => `<Redirect>/loop</Redirect>`
    app.answers["/loop"] = () => `<Say>Again.</Say><Redirect>/loop</Redirect>`
    await script("+4930600005", { afterMs: 50, talkMs: 50 })
    const created = await call("+4930600005")
    const done = await ended(created.sid)
    expect(done.documents).toHaveLength(20)
    expect(requestsTo("/loop")).toHaveLength(19)
    expect(done.said).toHaveLength(19)
    expect(done.twimlError).toMatch(/more than 20 TwiML documents/)
  })

  it("calls(sid).update({ status: 'completed' }) hangs up a call in progress; an ended call then answers 21220", async () => {
    app.answers["/voice/menu"] = () => `<Say>Hello.</Say>`
    await script("+4930600006", { afterMs: 50, talkMs: 600_000 })
    const created = await call("+4930600006")
    await inProgress(created.sid)
    const updated = await client().calls(created.sid).update({ status: "completed" })
    expect(updated).toMatchObject({ sid: created.sid, status: "completed", duration: "1" })
    await ended(created.sid)
    expect(statusesOf(created.sid)).toEqual(["initiated", "ringing", "in-progress", "completed"])
    await expect(client().calls(created.sid).update({ twiml: "<Response><Say>Too late.</Say></Response>" })).rejects.toMatchObject({ status: 400, code: 21220 })
    await expect(client().calls(created.sid).update({ status: "completed" })).rejects.toMatchObject({ status: 400, code: 21220 })
    await expect(client().calls("CA" + "f".repeat(32)).update({ status: "completed" })).rejects.toMatchObject({ status: 404, code: 20404 })
    expect((await listed(created.sid)).said).toEqual(["Hello."])
    const stats = (await (await fetch(`${sim.url}/sim/stats`)).json()) as { requests: Record<string, number> }
    expect(stats.requests).toMatchObject({ calls: 1, callUpdates: 4 })
  })

  it("an update before the answer cancels the call (completed or canceled alike), for good; canceled leaves a call in progress alone", async () => {
    await script("+4930600007", { queueMs: 400, afterMs: 50, talkMs: 600_000 })
    const queued = await call("+4930600007")
    const alsoQueued = await call("+4930600007")
    expect(await client().calls(queued.sid).update({ status: "completed" })).toMatchObject({ status: "canceled", duration: null })
    expect(await client().calls(alsoQueued.sid).update({ status: "canceled" })).toMatchObject({ status: "canceled" })
    // a call placed after them is answered after their own steps were due: they must not have moved on
    const talking = await call("+4930600007")
    await inProgress(talking.sid)
    for (const canceled of [queued, alsoQueued]) {
      expect(statusesOf(canceled.sid)).toEqual(["canceled"])
      expect(await client().calls(canceled.sid).fetch()).toMatchObject({ status: "canceled", startTime: null })
    }
    expect(app.received.find((r) => r.params.CallSid === queued.sid)?.params).toMatchObject({ CallDuration: "0", SipResponseCode: "487" })
    expect(requestsTo("/voice/menu").map((r) => r.params.CallSid)).toEqual([talking.sid])
    expect(await client().calls(talking.sid).update({ status: "canceled" })).toMatchObject({ status: "in-progress" })
    await expect(client().calls(queued.sid).update({ url: `${app.base}/voice/menu` })).rejects.toMatchObject({ status: 400, code: 21220 })
    expect((await client().calls(talking.sid).update({ status: "completed" })).status).toBe("completed")
  })

  it("update({ twiml }) and update({ url }) replace what plays: executed at once, keys and all", async () => {
    app.answers["/voice/menu"] = () => `<Say>Please hold.</Say>`
    app.answers["/voice/transfer"] = (params) => `<Say>Transferring ${params.CallSid}.</Say><Gather action="/voice/pick"/><Hangup/>`
    app.answers["/voice/pick"] = (params) => `<Dial><Number>+49305550${params.Digits}</Number></Dial>`
    await script("+4930600009", { afterMs: 50, talkMs: 600_000, digits: "7" })
    const created = await call("+4930600009")
    await inProgress(created.sid)
    await client().calls(created.sid).update({ twiml: `<Response><Say>An update.</Say><Pause length="1"/></Response>` })
    await eventually(async () => ((await listed(created.sid)).said.length === 2 ? true : undefined), 5_000, "the update's Say")
    const redirected = await client().calls(created.sid).update({ url: `${app.base}/voice/transfer`, method: "GET" })
    expect(redirected.status).toBe("in-progress")
    const dialed = await eventually(async () => {
      const seen = await listed(created.sid)
      return seen.dialed.length > 0 ? seen : undefined
    }, 5_000, "the transfer's Dial")
    expect(dialed).toMatchObject({ status: "in-progress", said: ["Please hold.", "An update.", `Transferring ${created.sid}.`], gathered: ["7"], dialed: ["+493055507"] })
    expect(dialed.documents.map((d) => d.url)).toEqual([`${app.base}/voice/menu`, undefined, `${app.base}/voice/transfer`, `${app.base}/voice/pick`])
    expect(requestsTo("/voice/transfer")[0]?.method).toBe("GET")
    await client().calls(created.sid).update({ twiml: "<Response><Hangup/></Response>" })
    expect((await ended(created.sid)).status).toBe("completed")
  })

  it("refuses scripts with malformed keys, or keys for a number that does not answer", async () => {
    for (const digits of ["", "12a", "1".repeat(21), 5, ["1", 2], ["1", ""], { 0: "1" }]) {
      const refused = await script("+4930600010", { digits })
      expect(refused.status, JSON.stringify(digits)).toBe(400)
      expect(((await refused.json()) as { error: string }).error).toMatch(/"digits"/)
    }
    expect((await script("+4930600010", { outcome: "busy", digits: "1" })).status).toBe(400)
    const one = await script("+4930600010", { digits: "0*#" })
    expect(((await one.json()) as { digits: unknown }).digits).toEqual(["0*#"])
    const many = await script("+4930600010", { digits: ["1", "98765432109876543210"] })
    expect(((await many.json()) as { digits: unknown }).digits).toEqual(["1", "98765432109876543210"])
  })
})

describe("the simulator's call playback with TwiML", () => {
  /** A playback whose timers a test runs by hand, whose TwiML comes from `documents`, and whose status callbacks are kept. */
  const harness = (documents: Record<string, string | Promise<string>>, digits: ReadonlyArray<string> = []) => {
    const pending: Array<{ readonly ms: number; readonly f: () => void | Promise<void> }> = []
    const state: SimulatorState = { ...makeState({ accountSid: "AC" + "4".repeat(32), authToken: "t" }), later: (ms, f) => void pending.push({ ms, f }) }
    state.scripts.set("+4930888888", { ...defaultScript, afterMs: 60, talkMs: 1000, digits })
    const reports: Array<Record<string, string>> = []
    const deliver = (async (url: string, params: Record<string, string>) => {
      if (url === "http://app/status") reports.push(params)
      return await documents[url]
    }) as Deliver
    const now = new Date().toISOString()
    const call: SimCall = {
      sid: "CA" + "5".repeat(32), to: "+4930888888", from: FROM, phase: "queued", statusCallback: "http://app/status", events: new Set(["completed"]), url: "http://app/voice",
      machineDetection: undefined, createdAt: now, updatedAt: now, startedAt: undefined, answeredAt: undefined, endedAt: undefined, durationSeconds: undefined, answeredBy: undefined,
      errorCode: undefined, twiml: undefined, documents: [], said: [], gathered: [], dialed: [], twimlError: undefined, sequence: 0
    }
    const playback = makePlayback(state, deliver)
    /** Runs the timers due now, then those they set, until `until` holds or none are left. */
    const runTimers = async (until: () => boolean = () => false) => {
      while (pending.length > 0 && !until()) for (const timer of pending.splice(0)) await timer.f()
    }
    return { call, playback, pending, reports, runTimers }
  }

  it("an update's TwiML takes the call over: the first talk timer finds it replaced, the second ends it, once", async () => {
    const { call, playback, pending, reports, runTimers } = harness({ "http://app/voice": "<Response><Say>first</Say></Response>" })
    playback.start(call)
    await runTimers(() => call.phase === "in-progress" && pending.length === 1) // talking: the first document's talk timer is set
    expect(call.said).toEqual(["first"])
    expect(playback.execute(call, { twiml: "<Response><Say>second</Say></Response>", url: undefined })).toBe(true)
    await new Promise((resolve) => setImmediate(resolve)) // the update's execution runs to its end: no request to wait for
    expect(pending).toHaveLength(2) // the old talk timer and the new one
    const [old] = pending.splice(0, 1)
    await old?.f()
    expect(call.phase).toBe("in-progress") // the replaced execution's timer does not end the call
    await runTimers()
    expect(call).toMatchObject({ phase: "completed", said: ["first", "second"], durationSeconds: 1 })
    expect(reports.map((r) => r.CallStatus)).toEqual(["completed"])
  })

  it("hung up while talking: the talk timer that fires later sends no second final report", async () => {
    const { call, playback, pending, reports, runTimers } = harness({ "http://app/voice": "<Response><Dial>+4930111</Dial></Response>" })
    playback.start(call)
    await runTimers(() => call.phase === "in-progress" && pending.length === 1)
    expect(call.dialed).toEqual(["+4930111"])
    await playback.hangUp(call)
    expect(call.phase).toBe("completed")
    await runTimers()
    await playback.hangUp(call)
    expect(reports.map((r) => [r.CallStatus, r.SequenceNumber])).toEqual([["completed", "0"]])
    expect(playback.execute(call, { twiml: "<Response><Say>late</Say></Response>", url: undefined })).toBe(false)
    expect(call.said).toEqual([])
  })
  it("an answer still in flight when an update takes over is dropped, not executed", async () => {
    let answer: (twiml: string) => void = () => undefined
    const inFlight = new Promise<string>((resolve) => (answer = resolve))
    const { call, playback, runTimers } = harness({ "http://app/voice": `<Response><Gather action="/menu"/></Response>`, "http://app/menu": inFlight }, ["1"])
    playback.start(call)
    const running = runTimers() // the answer's execution waits for the Gather's action
    await eventually(async () => (call.gathered.length === 1 ? true : undefined), 1_000, "the Gather to post")
    expect(playback.execute(call, { twiml: "<Response><Say>update</Say></Response>", url: undefined })).toBe(true)
    answer("<Response><Say>stale</Say><Hangup/></Response>")
    await running
    await runTimers()
    expect(call).toMatchObject({ phase: "completed", said: ["update"], gathered: ["1"] })
    expect(call.documents.map((d) => d.url)).toEqual(["http://app/voice", undefined])
  })
})
