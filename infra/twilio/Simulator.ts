/**
 * A Twilio-compatible simulator for development and tests (API.md
 * "Simulator"). It answers the REST calls the real twilio SDK makes for Calls
 * (create, fetch, list) and Messages (create), plays a scripted outcome per
 * destination number, fetches a call's voice URL when it is answered, and
 * sends status callbacks signed the way Twilio signs them
 * (`X-Twilio-Signature` over the callback URL), in Twilio's order with a
 * `SequenceNumber`. `/sim/*` lets tests script numbers, inject faults and read
 * what was sent. `switchboard simulator` runs it alone (SimulatorConfig).
 *
 * State lives in memory for the life of the server; timers are cleared when
 * it closes. Nothing here is used when real Twilio credentials are set.
 */
import { randomBytes } from "node:crypto"
import * as Config from "effect/Config"
import * as Redacted from "effect/Redacted"
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

/** The credentials and port `switchboard simulator` uses unless told otherwise. */
export const SIMULATOR_ACCOUNT_SID = "AC00000000000000000000000000000000"
export const SIMULATOR_AUTH_TOKEN = "switchboard-simulator-token"
export const DEFAULT_SIMULATOR_PORT = 4010
/** A `From` for apps talking to the simulator: Twilio's magic test number that is always a valid caller ID. */
export const SIMULATOR_FROM = "+15005550006"

/** How `switchboard simulator` runs the simulator alone. */
export const SimulatorConfig = Config.all({
  port: Config.integer("SIMULATOR_PORT").pipe(
    Config.validate({ message: "SIMULATOR_PORT must be an integer from 0 to 65535 (0: any free port)", validation: (n) => n >= 0 && n <= 65_535 }),
    Config.withDefault(DEFAULT_SIMULATOR_PORT),
    Config.withDescription("port of the Twilio simulator (0: any free port, printed at start)")
  ),
  host: Config.string("SIMULATOR_HOST").pipe(Config.withDefault("127.0.0.1"), Config.withDescription("bind address of the Twilio simulator")),
  accountSid: Config.string("TWILIO_ACCOUNT_SID").pipe(
    Config.validate({ message: "TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits", validation: (text) => /^AC[0-9a-fA-F]{32}$/.test(text) }),
    Config.withDefault(SIMULATOR_ACCOUNT_SID),
    Config.withDescription("the account SID the simulator accepts")
  ),
  authToken: Config.redacted("TWILIO_AUTH_TOKEN").pipe(
    Config.withDefault(Redacted.make(SIMULATOR_AUTH_TOKEN)),
    Config.withDescription("the auth token the simulator accepts and signs callbacks with")
  )
})

interface Fault {
  readonly status: 500 | 503 | 429
  remaining: number | undefined
  /** Whether GETs of calls fail too (500 and 503 only); otherwise only creates do. */
  readonly reads: boolean
}

export interface SimCall {
  readonly sid: string
  readonly to: string
  readonly from: string
  status: string
  readonly statusCallback: string | undefined
  readonly url: string | undefined
  readonly createdAt: string
  updatedAt: string
  /** When it was dialled (`initiated`); Twilio's `start_time`. */
  startedAt: string | undefined
  endedAt: string | undefined
  /** Seconds talked, once ended (0 unless answered). */
  durationSeconds: number | undefined
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

/** The filters of `GET Calls.json` the simulator does not apply: refused with a 400 rather than ignored. */
const UNSUPPORTED_CALL_FILTERS = ["ParentCallSid", "StartTime", "StartTime<", "EndTime", "EndTime<", "EndTime>"]

/**
 * The calls a `GET Calls.json` query selects (`To`, `From`, `Status`,
 * `StartTime>`), newest first; a message when the query cannot be answered.
 *
 * Twilio compares `StartTime>` with a call's `start_time`, which a queued
 * call does not have yet. The simulator compares with the creation time then,
 * so a call that was just created is found: what a reconciler asks right
 * after an ambiguous create. (Real Twilio may leave such a call out.)
 */
const selectCalls = (calls: ReadonlyArray<SimCall>, query: URLSearchParams): ReadonlyArray<SimCall> | string => {
  const unsupported = UNSUPPORTED_CALL_FILTERS.find((name) => query.has(name))
  if (unsupported !== undefined) return `The simulator does not filter calls by ${unsupported}`
  const afterText = query.get("StartTime>")
  const after = afterText === null ? undefined : Date.parse(afterText)
  if (after !== undefined && Number.isNaN(after)) return `StartTime> must be a date or a date-time, not ${afterText}`
  const matches = (name: string, value: string) => {
    const wanted = query.get(name)
    return wanted === null || wanted === value
  }
  return calls
    .filter((call) => matches("To", call.to) && matches("From", call.from) && matches("Status", call.status))
    .filter((call) => after === undefined || Date.parse(call.startedAt ?? call.createdAt) >= after)
    .toReversed()
}

/** A whole number query parameter from `min` to `max`, the fallback when absent, NaN when invalid. */
const wholeParam = (query: URLSearchParams, name: string, fallback: number, min: number, max: number): number => {
  const text = query.get(name)
  if (text === null) return fallback
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  return n >= min && n <= max ? n : NaN
}

export const makeSimulator = (options: SimulatorOptions) => {
  const calls: Array<SimCall> = []
  const messages: Array<SimMessage> = []
  const scripts = new Map<string, NumberScript>()
  const faults: { calls?: Fault | undefined; messages?: Fault | undefined; createThenFail: boolean } = { createThenFail: false }
  const inProgress = new Map<string, number>()
  const maxConcurrent = new Map<string, number>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  /** REST requests received per resource, faults and refusals included: how much traffic reached "Twilio" (`callReads`: GETs of calls). */
  const requests = { calls: 0, messages: 0, callReads: 0 }

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

  const setCallStatus = async (call: SimCall, status: string, talkedSeconds?: number) => {
    const now = new Date().toISOString()
    call.status = status
    call.updatedAt = now
    if (status === "initiated") call.startedAt = now
    if (["completed", "busy", "no-answer", "failed", "canceled"].includes(status)) {
      call.endedAt = now
      call.durationSeconds = talkedSeconds ?? 0
      inProgress.set(call.to, (inProgress.get(call.to) ?? 1) - 1)
    }
    if (call.statusCallback !== undefined) {
      call.sequence++
      const duration: Record<string, string> = talkedSeconds === undefined ? {} : { CallDuration: String(talkedSeconds) }
      await post(call.statusCallback, { ...callParams(call), SequenceNumber: String(call.sequence), Timestamp: rfc2822(new Date()), ...duration })
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
      later(script.talkMs, () => setCallStatus(call, "completed", Math.max(1, Math.round(script.talkMs / 1000))))
    })
  }

  /** The fault to answer a create (or a read) with now, if one is set for it (and counts it down: reads and creates share the count). */
  const faultFor = (kind: "calls" | "messages", request: "create" | "read" = "create"): Fault | undefined => {
    const fault = faults[kind]
    if (fault === undefined || (request === "read" && !fault.reads)) return undefined
    if (fault.remaining !== undefined && --fault.remaining <= 0) faults[kind] = undefined
    return fault
  }

  const callsUri = `/2010-04-01/Accounts/${options.accountSid}/Calls`
  const rfc2822At = (at: string | undefined) => (at === undefined ? null : rfc2822(new Date(at)))
  /** A call as Twilio's REST API shows it. */
  const callJson = (call: SimCall) => ({
    sid: call.sid,
    account_sid: options.accountSid,
    parent_call_sid: null,
    to: call.to,
    to_formatted: call.to,
    from: call.from,
    from_formatted: call.from,
    phone_number_sid: null,
    status: call.status,
    direction: "outbound-api",
    api_version: "2010-04-01",
    date_created: rfc2822At(call.createdAt),
    date_updated: rfc2822At(call.updatedAt),
    start_time: rfc2822At(call.startedAt),
    end_time: rfc2822At(call.endedAt),
    duration: call.durationSeconds === undefined ? null : String(call.durationSeconds),
    price: null,
    price_unit: "USD",
    answered_by: null,
    forwarded_from: null,
    caller_name: null,
    group_sid: null,
    queue_time: "0",
    trunk_sid: null,
    uri: `${callsUri}/${call.sid}.json`
  })

  const app = new Hono()
  const form = async (request: Request): Promise<URLSearchParams> => new URLSearchParams(await request.text())
  const authorized = (header: string | undefined, account: string) => {
    const expected = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString("base64")}`
    return account === options.accountSid && header === expected
  }
  /** Counts a GET of calls and answers it when it must fail: bad credentials, or a fault set with `reads`. */
  const refuseRead = (header: string | undefined, account: string): Response | undefined => {
    requests.callReads++
    if (!authorized(header, account)) return restError(401, 20003, "Authenticate")
    const fault = faultFor("calls", "read")
    return fault === undefined ? undefined : restError(fault.status, 20500, "Simulated fault")
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
      updatedAt: new Date().toISOString(),
      startedAt: undefined,
      endedAt: undefined,
      durationSeconds: undefined,
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
    return c.json(callJson(call), 201)
  })

  app.get("/2010-04-01/Accounts/:account/Calls.json", (c) => {
    const refused = refuseRead(c.req.header("authorization"), c.req.param("account"))
    if (refused !== undefined) return refused
    const query = new URL(c.req.url).searchParams
    const selected = selectCalls(calls, query)
    if (typeof selected === "string") return restError(400, 20001, selected)
    const pageSize = wholeParam(query, "PageSize", 50, 1, 1000)
    const page = wholeParam(query, "Page", 0, 0, Number.MAX_SAFE_INTEGER)
    if (Number.isNaN(pageSize) || Number.isNaN(page)) return restError(400, 20001, "PageSize must be 1 to 1000 and Page a whole number")
    const start = page * pageSize
    const items = selected.slice(start, start + pageSize)
    const uriOf = (n: number) => {
      const paged = new URLSearchParams(query)
      paged.set("PageSize", String(pageSize))
      paged.set("Page", String(n))
      return `${callsUri}.json?${paged.toString()}`
    }
    return c.json({
      calls: items.map(callJson),
      page,
      page_size: pageSize,
      start,
      end: start + Math.max(0, items.length - 1),
      uri: uriOf(page),
      first_page_uri: uriOf(0),
      next_page_uri: start + pageSize < selected.length ? uriOf(page + 1) : null,
      previous_page_uri: page > 0 ? uriOf(page - 1) : null
    })
  })

  app.get("/2010-04-01/Accounts/:account/Calls/:file", (c) => {
    const refused = refuseRead(c.req.header("authorization"), c.req.param("account"))
    if (refused !== undefined) return refused
    const call = calls.find((candidate) => `${candidate.sid}.json` === c.req.param("file"))
    return call === undefined ? restError(404, 20404, `The requested resource ${c.req.path} was not found`) : c.json(callJson(call))
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
    type Spec = { status?: number; count?: number; reads?: unknown }
    const body = (await c.req.json().catch(() => undefined)) as { calls?: Spec; messages?: Spec; createThenFail?: boolean } | undefined
    /** The fault a spec asks for; null when it is malformed. Only calls have reads, and only a 500 or 503 fails them. */
    const fault = (spec: Spec | undefined, readable: boolean): Fault | undefined | null => {
      if (spec === undefined) return undefined
      if (spec.status !== 500 && spec.status !== 503 && spec.status !== 429) return null
      if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 1)) return null
      if (spec.reads !== undefined && typeof spec.reads !== "boolean") return null
      if (spec.reads === true && (!readable || spec.status === 429)) return null
      return { status: spec.status, remaining: spec.count, reads: spec.reads === true }
    }
    const callsFault = fault(body?.calls, true)
    const messagesFault = fault(body?.messages, false)
    if (body === undefined || callsFault === null || messagesFault === null) {
      return c.json(
        { error: 'PUT /sim/faults with { "calls"?: { "status": 500 | 503 | 429, "count"?, "reads"?: bool (500 | 503: GETs fail too) }, "messages"?: { "status", "count"? }, "createThenFail"?: bool }' },
        400
      )
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
    requests.callReads = 0
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
