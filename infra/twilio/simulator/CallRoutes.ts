/**
 * `Calls.json`: create, fetch, list and update as Twilio's REST API answers
 * them (tests/fixtures/twilio holds Twilio's schemas; SimulatorFidelity.test.ts
 * checks every answer against them). An update (`calls(sid).update`) hangs a
 * call up (`Status`) or has it execute other TwiML now (`Url`, `Twiml`).
 */
import type { Hono } from "hono"
import type { Deliver } from "./Callbacks.ts"
import { makePlayback } from "./CallPlayback.ts"
import { CALL_EVENTS, type CallEvent, E164, faultFor, faultResponse, form, isFinal, newSid, authorized, restError, rfc2822At, type SimCall, type SimulatorState } from "./Model.ts"
import { methodOf, type TwimlSource } from "./TwimlExecution.ts"
import { selectCalls } from "./CallQuery.ts"

const SUBRESOURCES = ["notifications", "recordings", "payments", "events", "siprec", "streams", "transcriptions", "user_defined_message_subscriptions", "user_defined_messages"]
const SUBRESOURCE_FILES: Record<string, string> = {
  user_defined_message_subscriptions: "UserDefinedMessageSubscriptions",
  user_defined_messages: "UserDefinedMessages"
}

/** A whole number query parameter from `min` to `max`, the fallback when absent, NaN when invalid. */
const wholeParam = (query: URLSearchParams, name: string, fallback: number, min: number, max: number): number => {
  const text = query.get(name)
  if (text === null) return fallback
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  return n >= min && n <= max ? n : NaN
}

/** The REST status of a call: `initiated` is shown as `queued`. */
export const restStatus = (call: SimCall) => (call.phase === "initiated" ? "queued" : call.phase)

export const mountCalls = (app: Hono, state: SimulatorState, deliver: Deliver) => {
  const playback = makePlayback(state, deliver)
  const callsUri = `/2010-04-01/Accounts/${state.options.accountSid}/Calls`

  /** A call as Twilio's REST API shows it: `duration` only once completed, `end_time` only for a completed call. */
  const callJson = (call: SimCall) => {
    const uri = `${callsUri}/${call.sid}`
    return {
      sid: call.sid,
      date_created: rfc2822At(call.createdAt),
      date_updated: rfc2822At(call.updatedAt),
      parent_call_sid: null,
      account_sid: state.options.accountSid,
      to: call.to,
      to_formatted: call.to,
      from: call.from,
      from_formatted: call.from,
      phone_number_sid: null,
      status: restStatus(call),
      start_time: rfc2822At(call.startedAt),
      end_time: call.phase === "completed" ? rfc2822At(call.endedAt) : null,
      duration: call.phase === "completed" && call.durationSeconds !== undefined ? String(call.durationSeconds) : null,
      price: null,
      price_unit: "USD",
      direction: "outbound-api",
      answered_by: call.answeredBy ?? null,
      api_version: "2010-04-01",
      forwarded_from: null,
      group_sid: null,
      caller_name: null,
      queue_time: call.startedAt === undefined ? "0" : String(Date.parse(call.startedAt) - Date.parse(call.createdAt)),
      trunk_sid: null,
      uri: `${uri}.json`,
      subresource_uris: Object.fromEntries(
        SUBRESOURCES.map((name) => [name, `${uri}/${SUBRESOURCE_FILES[name] ?? name[0]?.toUpperCase() + name.slice(1)}.json`])
      )
    }
  }

  /** Counts a GET of calls and answers it when it must fail: bad credentials, or a fault set with `reads`. */
  const refuseRead = (header: string | undefined, account: string): Response | undefined => {
    state.requests.callReads++
    if (!authorized(state, header, account)) return restError(401, 20003, "Authenticate")
    const fault = faultFor(state, "calls", "read")
    return fault === undefined ? undefined : faultResponse(fault)
  }

  app.post("/2010-04-01/Accounts/:account/Calls.json", async (c) => {
    state.requests.calls++
    if (!authorized(state, c.req.header("authorization"), c.req.param("account"))) return restError(401, 20003, "Authenticate")
    const params = await form(c.req.raw)
    const fault = faultFor(state, "calls")
    if (fault !== undefined && !state.faults.createThenFail) return faultResponse(fault)
    const to = params.get("To") ?? ""
    const from = params.get("From") ?? ""
    if (to === "") return restError(400, 21201, "No 'To' number is specified")
    if (!E164.test(to)) return restError(400, 21211, `Invalid 'To' Phone Number: ${to}`)
    if (from === "") return restError(400, 21213, "No 'From' number is specified")
    if (!E164.test(from)) return restError(400, 21212, `Invalid 'From' Phone Number: ${from}`)
    const asked = params.getAll("StatusCallbackEvent").flatMap((value) => value.split(/\s+/))
    const events = new Set<CallEvent>(asked.length === 0 ? ["completed"] : CALL_EVENTS.filter((event) => asked.includes(event)))
    const now = new Date().toISOString()
    const call: SimCall = {
      sid: newSid("CA"),
      to,
      from,
      phase: "queued",
      statusCallback: params.get("StatusCallback") ?? undefined,
      events,
      url: params.get("Url") ?? undefined,
      machineDetection: params.get("MachineDetection") ?? undefined,
      createdAt: now,
      updatedAt: now,
      startedAt: undefined,
      answeredAt: undefined,
      endedAt: undefined,
      durationSeconds: undefined,
      answeredBy: undefined,
      errorCode: undefined,
      twiml: undefined,
      documents: [],
      said: [],
      gathered: [],
      dialed: [],
      twimlError: undefined,
      sequence: 0
    }
    state.calls.push(call)
    const concurrent = (state.inProgress.get(to) ?? 0) + 1
    state.inProgress.set(to, concurrent)
    state.maxConcurrent.set(to, Math.max(state.maxConcurrent.get(to) ?? 0, concurrent))
    playback.start(call)
    // the ambiguous case: the call exists and rings, but the API answers an error
    if (state.faults.createThenFail) return restError(500, 20500, "Simulated failure after the call was created")
    return c.json(callJson(call), 201)
  })

  app.get("/2010-04-01/Accounts/:account/Calls.json", (c) => {
    const refused = refuseRead(c.req.header("authorization"), c.req.param("account"))
    if (refused !== undefined) return refused
    const query = new URL(c.req.url).searchParams
    const selected = selectCalls(state.calls, query, restStatus)
    if (typeof selected === "string") return restError(400, 20001, selected)
    const pageSize = wholeParam(query, "PageSize", 50, 1, 1000)
    const page = wholeParam(query, "Page", 0, 0, Number.MAX_SAFE_INTEGER)
    if (Number.isNaN(pageSize) || Number.isNaN(page)) return restError(400, 20001, "PageSize must be 1 to 1000 and Page a whole number")
    const start = page * pageSize
    const items = selected.slice(start, start + pageSize)
    const uriOf = (n: number) => {
      const paged = new URLSearchParams(query)
      paged.delete("PageToken")
      paged.set("PageSize", String(pageSize))
      paged.set("Page", String(n))
      return `${callsUri}.json?${paged.toString()}`
    }
    return c.json({
      calls: items.map(callJson),
      end: start + Math.max(0, items.length - 1),
      first_page_uri: uriOf(0),
      next_page_uri: start + pageSize < selected.length ? uriOf(page + 1) : null,
      page,
      page_size: pageSize,
      previous_page_uri: page > 0 ? uriOf(page - 1) : null,
      start,
      uri: uriOf(page)
    })
  })

  app.get("/2010-04-01/Accounts/:account/Calls/:file", (c) => {
    const refused = refuseRead(c.req.header("authorization"), c.req.param("account"))
    if (refused !== undefined) return refused
    const call = state.calls.find((candidate) => `${candidate.sid}.json` === c.req.param("file"))
    return call === undefined ? restError(404, 20404, `The requested resource ${c.req.path} was not found`) : c.json(callJson(call))
  })

  /**
   * Twilio's update: `Status=completed` hangs up (a call not yet answered is canceled), `Status=canceled`
   * cancels a call not yet answered and leaves one in progress alone (as Twilio documents), and `Url`
   * (with `Method`) or `Twiml` replaces what an answered call executes. An ended call, or a redirect of one
   * not in progress, is refused with 21220.
   */
  app.post("/2010-04-01/Accounts/:account/Calls/:file", async (c) => {
    state.requests.callUpdates++
    if (!authorized(state, c.req.header("authorization"), c.req.param("account"))) return restError(401, 20003, "Authenticate")
    const call = state.calls.find((candidate) => `${candidate.sid}.json` === c.req.param("file"))
    if (call === undefined) return restError(404, 20404, `The requested resource ${c.req.path} was not found`)
    const params = await form(c.req.raw)
    const status = params.get("Status")
    const url = params.get("Url")
    const twiml = params.get("Twiml")
    if (status !== null && status !== "completed" && status !== "canceled") return restError(400, 20001, `Invalid Status: ${status} (completed or canceled)`)
    if (url !== null && !/^https?:\/\//i.test(url)) return restError(400, 21205, `Url is not a valid URL: ${url}`)
    const notInProgress = () => restError(400, 21220, "Call is not in-progress. Cannot redirect.")
    if (isFinal(call)) return notInProgress()
    if (status === "completed" || (status === "canceled" && call.phase !== "in-progress")) void playback.hangUp(call)
    else if (status === null && (url !== null || twiml !== null)) {
      const source: TwimlSource = url !== null ? { request: url, method: methodOf(params.get("Method")), params: {} } : { twiml: twiml ?? "", url: undefined }
      if (!playback.execute(call, source)) return notInProgress()
    }
    return c.json(callJson(call))
  })
}
