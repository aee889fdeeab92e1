/**
 * A Twilio-compatible simulator for development and tests (API.md
 * "Simulator"). It answers the REST calls the real twilio SDK makes for Calls
 * and Messages, plays a scripted outcome per destination number, fetches a
 * call's voice URL when it is answered, and sends status callbacks signed the
 * way Twilio signs them (`X-Twilio-Signature` over the callback URL), in
 * Twilio's order with a `SequenceNumber`. `/sim/*` lets tests script numbers,
 * inject faults and read what was sent.
 *
 * State lives in memory for the life of the server; timers are cleared when
 * it closes. Nothing here is used when real Twilio credentials are set.
 */
import { randomBytes } from "node:crypto"
import { Hono } from "hono"
import twilio from "twilio"
import { listen } from "../http/Listener.ts"

export type Outcome = "answered" | "busy" | "no-answer" | "failed"

export interface NumberScript {
  readonly outcome: Outcome
  readonly afterMs: number
  readonly talkMs: number
}

export const defaultScript: NumberScript = { outcome: "answered", afterMs: 200, talkMs: 500 }

interface Fault {
  readonly status: 500 | 503 | 429
  remaining: number | undefined
}

export interface SimCall {
  readonly sid: string
  readonly to: string
  readonly from: string
  status: string
  readonly statusCallback: string | undefined
  readonly url: string | undefined
  readonly createdAt: string
  endedAt: string | undefined
  /** The TwiML the voice URL answered with, once the call was answered. */
  twiml: string | undefined
  sequence: number
}

export interface SimMessage {
  readonly sid: string
  readonly to: string
  readonly from: string
  readonly body: string
  status: string
  readonly statusCallback: string | undefined
  readonly createdAt: string
}

export interface SimulatorOptions {
  readonly accountSid: string
  readonly authToken: string
  /** Where callbacks go wrong (a closed app, say): reported here, never thrown. */
  readonly onCallbackError?: (url: string, error: unknown) => void
}

const E164 = /^\+[1-9]\d{6,14}$/
const sid = (prefix: string) => prefix + randomBytes(16).toString("hex")
const rfc2822 = (date: Date) => date.toUTCString().replace("GMT", "+0000")

/** A Twilio REST error body. */
const restError = (status: number, code: number, message: string) =>
  new Response(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }), {
    status,
    headers: { "Content-Type": "application/json" }
  })

export const makeSimulator = (options: SimulatorOptions) => {
  const calls: Array<SimCall> = []
  const messages: Array<SimMessage> = []
  const scripts = new Map<string, NumberScript>()
  const faults: { calls?: Fault | undefined; messages?: Fault | undefined; createThenFail: boolean } = { createThenFail: false }
  const inProgress = new Map<string, number>()
  const maxConcurrent = new Map<string, number>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  /** REST requests received per resource, faults and refusals included: how much traffic reached "Twilio". */
  const requests = { calls: 0, messages: 0 }

  const later = (ms: number, f: () => void | Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      void f()
    }, ms)
    timers.add(timer)
  }

  /** POSTs form params signed like Twilio; returns the response text, or undefined when it failed. */
  const post = async (url: string, params: Record<string, string>): Promise<string | undefined> => {
    try {
      const signature = twilio.getExpectedTwilioSignature(options.authToken, url, params)
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature },
        body: new URLSearchParams(params).toString()
      })
      return await response.text()
    } catch (error) {
      options.onCallbackError?.(url, error)
      return undefined
    }
  }

  const callParams = (call: SimCall): Record<string, string> => ({
    AccountSid: options.accountSid,
    CallSid: call.sid,
    From: call.from,
    To: call.to,
    Called: call.to,
    Caller: call.from,
    Direction: "outbound-api",
    ApiVersion: "2010-04-01",
    CallStatus: call.status
  })

  const setCallStatus = async (call: SimCall, status: string, extra: Record<string, string> = {}) => {
    call.status = status
    if (["completed", "busy", "no-answer", "failed", "canceled"].includes(status)) {
      call.endedAt = new Date().toISOString()
      inProgress.set(call.to, (inProgress.get(call.to) ?? 1) - 1)
    }
    if (call.statusCallback !== undefined) {
      call.sequence++
      await post(call.statusCallback, { ...callParams(call), SequenceNumber: String(call.sequence), Timestamp: rfc2822(new Date()), ...extra })
    }
  }

  /** queued -> initiated -> ringing -> (in-progress -> completed) | busy | no-answer | failed */
  const play = (call: SimCall) => {
    const script = scripts.get(call.to) ?? defaultScript
    later(20, () => setCallStatus(call, "initiated"))
    later(40, () => setCallStatus(call, "ringing"))
    later(Math.max(50, script.afterMs), async () => {
      if (script.outcome !== "answered") return setCallStatus(call, script.outcome)
      call.status = "in-progress"
      if (call.url !== undefined) call.twiml = await post(call.url, callParams(call))
      await setCallStatus(call, "in-progress")
      later(script.talkMs, () => setCallStatus(call, "completed", { CallDuration: String(Math.max(1, Math.round(script.talkMs / 1000))) }))
    })
  }

  /** The fault to answer with now, if one is set (and counts it down). */
  const faultFor = (kind: "calls" | "messages"): Fault | undefined => {
    const fault = faults[kind]
    if (fault === undefined) return undefined
    if (fault.remaining !== undefined && --fault.remaining <= 0) faults[kind] = undefined
    return fault
  }

  const app = new Hono()
  const form = async (request: Request): Promise<URLSearchParams> => new URLSearchParams(await request.text())
  const authorized = (header: string | undefined, account: string) => {
    const expected = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString("base64")}`
    return account === options.accountSid && header === expected
  }

  app.post("/2010-04-01/Accounts/:account/Calls.json", async (c) => {
    requests.calls++
    if (!authorized(c.req.header("authorization"), c.req.param("account"))) return restError(401, 20003, "Authenticate")
    const params = await form(c.req.raw)
    const fault = faultFor("calls")
    if (fault !== undefined && !faults.createThenFail) return restError(fault.status, fault.status === 429 ? 20429 : 20500, "Simulated fault")
    const to = params.get("To") ?? ""
    const from = params.get("From") ?? ""
    if (!E164.test(to)) return restError(400, 21211, `The 'To' number ${to} is not a valid phone number.`)
    if (!E164.test(from)) return restError(400, 21212, `The 'From' number ${from} is not a valid phone number.`)
    const call: SimCall = {
      sid: sid("CA"),
      to,
      from,
      status: "queued",
      statusCallback: params.get("StatusCallback") ?? undefined,
      url: params.get("Url") ?? undefined,
      createdAt: new Date().toISOString(),
      endedAt: undefined,
      twiml: undefined,
      sequence: -1
    }
    calls.push(call)
    const now = (inProgress.get(to) ?? 0) + 1
    inProgress.set(to, now)
    maxConcurrent.set(to, Math.max(maxConcurrent.get(to) ?? 0, now))
    play(call)
    // the ambiguous case: the call exists and rings, but the API answers an error
    if (faults.createThenFail) return restError(500, 20500, "Simulated failure after the call was created")
    return c.json({ sid: call.sid, account_sid: options.accountSid, to, from, status: call.status, direction: "outbound-api", date_created: rfc2822(new Date(call.createdAt)), uri: `/2010-04-01/Accounts/${options.accountSid}/Calls/${call.sid}.json` }, 201)
  })

  app.post("/2010-04-01/Accounts/:account/Messages.json", async (c) => {
    requests.messages++
    if (!authorized(c.req.header("authorization"), c.req.param("account"))) return restError(401, 20003, "Authenticate")
    const params = await form(c.req.raw)
    const fault = faultFor("messages")
    if (fault !== undefined) return restError(fault.status, fault.status === 429 ? 20429 : 20500, "Simulated fault")
    const to = params.get("To") ?? ""
    const from = params.get("From") ?? ""
    const body = params.get("Body") ?? ""
    if (!E164.test(to)) return restError(400, 21211, `The 'To' number ${to} is not a valid phone number.`)
    if (body === "") return restError(400, 21602, "Message body is required.")
    const message: SimMessage = { sid: sid("SM"), to, from, body, status: "queued", statusCallback: params.get("StatusCallback") ?? undefined, createdAt: new Date().toISOString() }
    messages.push(message)
    let sequence = 0
    for (const [ms, status] of [[20, "sent"], [40, "delivered"]] as const) {
      later(ms, async () => {
        message.status = status
        if (message.statusCallback !== undefined) {
          await post(message.statusCallback, { AccountSid: options.accountSid, MessageSid: message.sid, SmsSid: message.sid, From: from, To: to, MessageStatus: status, SmsStatus: status, ApiVersion: "2010-04-01", SequenceNumber: String(sequence++) })
        }
      })
    }
    return c.json({ sid: message.sid, account_sid: options.accountSid, to, from, body, status: "queued", num_segments: "1", direction: "outbound-api", date_created: rfc2822(new Date(message.createdAt)), uri: `/2010-04-01/Accounts/${options.accountSid}/Messages/${message.sid}.json` }, 201)
  })

  const newestFirst = <A extends { readonly to: string }>(items: ReadonlyArray<A>, to: string | undefined) => items.filter((item) => to === undefined || item.to === to).toReversed()

  app.get("/sim/messages", (c) => c.json(newestFirst(messages, c.req.query("to")).map(({ sid: s, to, from, body, status, createdAt }) => ({ sid: s, to, from, body, status, createdAt }))))
  app.get("/sim/calls", (c) =>
    c.json(newestFirst(calls, c.req.query("to")).map(({ sid: s, to, from, status, statusCallback, createdAt, endedAt, twiml }) => ({ sid: s, to, from, status, statusCallback, createdAt, endedAt, twiml })))
  )
  app.get("/sim/stats", (c) =>
    c.json({ calls: calls.length, messages: messages.length, maxConcurrentCalls: Object.fromEntries(maxConcurrent), requests: { ...requests } })
  )

  app.put("/sim/numbers/:e164", async (c) => {
    const number = c.req.param("e164")
    const body = (await c.req.json().catch(() => undefined)) as Partial<NumberScript> | undefined
    const outcomes: ReadonlyArray<string> = ["answered", "busy", "no-answer", "failed"]
    const ms = (v: unknown, fallback: number) => (v === undefined ? fallback : typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 600_000 ? v : NaN)
    if (!E164.test(number) || body === undefined || !outcomes.includes(String(body.outcome))) {
      return c.json({ error: 'PUT /sim/numbers/{e164} with { "outcome": "answered" | "busy" | "no-answer" | "failed", "afterMs"?, "talkMs"? }' }, 400)
    }
    const script = { outcome: body.outcome as Outcome, afterMs: ms(body.afterMs, defaultScript.afterMs), talkMs: ms(body.talkMs, defaultScript.talkMs) }
    if (Number.isNaN(script.afterMs) || Number.isNaN(script.talkMs)) return c.json({ error: "afterMs and talkMs are integers from 0 to 600000" }, 400)
    scripts.set(number, script)
    return c.json(script)
  })

  app.put("/sim/faults", async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as
      | { calls?: { status?: number; count?: number }; messages?: { status?: number; count?: number }; createThenFail?: boolean }
      | undefined
    const fault = (spec: { status?: number; count?: number } | undefined): Fault | undefined | null => {
      if (spec === undefined) return undefined
      if (spec.status !== 500 && spec.status !== 503 && spec.status !== 429) return null
      if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 1)) return null
      return { status: spec.status, remaining: spec.count }
    }
    const callsFault = fault(body?.calls)
    const messagesFault = fault(body?.messages)
    if (body === undefined || callsFault === null || messagesFault === null) {
      return c.json({ error: 'PUT /sim/faults with { "calls"?: { "status": 500 | 503 | 429, "count"? }, "messages"?: {...}, "createThenFail"?: bool }' }, 400)
    }
    faults.calls = callsFault
    faults.messages = messagesFault
    faults.createThenFail = body.createThenFail === true
    return c.json({ ok: true })
  })
  app.delete("/sim/faults", (c) => {
    faults.calls = undefined
    faults.messages = undefined
    faults.createThenFail = false
    return c.body(null, 204)
  })
  app.post("/sim/reset", (c) => {
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
    calls.length = 0
    messages.length = 0
    scripts.clear()
    inProgress.clear()
    maxConcurrent.clear()
    requests.calls = 0
    requests.messages = 0
    faults.calls = undefined
    faults.messages = undefined
    faults.createThenFail = false
    return c.body(null, 204)
  })
  app.notFound((c) => restError(404, 20404, `The requested resource ${c.req.path} was not found`))

  return { app, close: () => timers.forEach(clearTimeout) }
}

export interface RunningSimulator {
  readonly url: string
  readonly close: () => Promise<void>
}

/** Serves a simulator on `port` (0: any free port) at 127.0.0.1. */
export const startSimulator = async (options: SimulatorOptions & { readonly port: number; readonly host?: string }): Promise<RunningSimulator> => {
  const simulator = makeSimulator(options)
  const host = options.host ?? "127.0.0.1"
  const listener = await listen(simulator.app.fetch, options.port, host)
  return {
    url: `http://${host}:${listener.port}`,
    close: () => {
      simulator.close()
      return listener.close()
    }
  }
}
