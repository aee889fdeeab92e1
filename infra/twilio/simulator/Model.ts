/**
 * The simulator's vocabulary: what a number is scripted to do, the calls and
 * texts it keeps, Twilio's wire formats (SIDs, RFC 2822 dates, error bodies)
 * and the state every route shares.
 */
import { randomBytes } from "node:crypto"

export type Outcome = "answered" | "busy" | "no-answer" | "failed"

/** What happens to calls and texts to one number (`PUT /sim/numbers/{e164}`). */
export interface NumberScript {
  readonly outcome: Outcome
  /** From the call's start (after its queue time) to its outcome. */
  readonly afterMs: number
  readonly talkMs: number
  /** How long a call stays `queued` before it starts (no `start_time` until then). */
  readonly queueMs: number
  /** Twilio's error code a call or text to this number fails with. */
  readonly errorCode: number | undefined
  /** Who picks up an answered call: a machine is found only when the create asked for `MachineDetection`. */
  readonly answeredBy: "human" | "machine"
  /** The keys pressed, one entry per `<Gather>` a call executes, in order; none left: the Gather hears nothing. */
  readonly digits: ReadonlyArray<string>
}

export const defaultScript: NumberScript = { outcome: "answered", afterMs: 200, talkMs: 500, queueMs: 0, errorCode: undefined, answeredBy: "human", digits: [] }

/** A call's progress: Twilio's REST statuses plus `initiated`, which only status callbacks show (REST says `queued`). */
export type CallPhase = "queued" | "initiated" | "ringing" | "in-progress" | "completed" | "busy" | "no-answer" | "failed" | "canceled"
export const FINAL_PHASES: ReadonlyArray<CallPhase> = ["completed", "busy", "no-answer", "failed", "canceled"]
/** Whether the call has ended: it reaches a final phase once and never leaves it. */
export const isFinal = (call: SimCall) => FINAL_PHASES.includes(call.phase)
/** The events of `StatusCallbackEvent`; Twilio sends `completed` only when the create names none. */
export type CallEvent = "initiated" | "ringing" | "answered" | "completed"
export const CALL_EVENTS: ReadonlyArray<CallEvent> = ["initiated", "ringing", "answered", "completed"]

export interface SimCall {
  readonly sid: string
  readonly to: string
  readonly from: string
  phase: CallPhase
  readonly statusCallback: string | undefined
  readonly events: ReadonlySet<CallEvent>
  readonly url: string | undefined
  /** The create's `MachineDetection` (Enable, DetectMessageEnd), if any. */
  readonly machineDetection: string | undefined
  readonly createdAt: string
  updatedAt: string
  /** When it was dialled (`initiated`); Twilio's `start_time`. */
  startedAt: string | undefined
  /** When it was answered (`in-progress`). */
  answeredAt: string | undefined
  /** When it ended, whatever the outcome. */
  endedAt: string | undefined
  /** Seconds talked, once completed. */
  durationSeconds: number | undefined
  answeredBy: string | undefined
  errorCode: number | undefined
  /** The first TwiML document the call executed (the voice URL's answer), once the call was answered. */
  twiml: string | undefined
  /** Every document the call executed, in order: where it came from (none: an update's `Twiml`) and its text. */
  readonly documents: Array<CallDocument>
  /** What the answering party heard: the text of each `<Say>` executed, in order (read as Twilio reads it). */
  readonly said: Array<string>
  /** The keys each `<Gather>` that heard some posted as `Digits`, in order. */
  readonly gathered: Array<string>
  /** The numbers each `<Dial>` dialled, in order. */
  readonly dialed: Array<string>
  /** Why the last document that failed could not be executed (unreadable, as Twilio's error 12100, or a redirect loop). */
  twimlError: string | undefined
  /** Status callbacks sent so far: the next one's SequenceNumber. */
  sequence: number
}

/** A TwiML document a call executed. */
export interface CallDocument {
  readonly url: string | undefined
  readonly twiml: string
}

export type MessageStatus = "queued" | "sent" | "delivered" | "undelivered" | "failed"

export interface SimMessage {
  readonly sid: string
  readonly to: string
  readonly from: string
  readonly body: string
  status: MessageStatus
  readonly statusCallback: string | undefined
  readonly createdAt: string
  updatedAt: string
  sentAt: string | undefined
  errorCode: number | undefined
}

export interface Fault {
  /** 500, 503, 429; or a refusal of this account's configuration (400, 401, 403) with its Twilio `code`. */
  readonly status: 500 | 503 | 429 | 400 | 401 | 403
  readonly code?: number | undefined
  remaining: number | undefined
  /** Whether GETs of calls fail too (500 and 503 only); otherwise only creates do. */
  readonly reads: boolean
  /** The `Retry-After` (seconds) a 429 or 503 answers with, as Twilio may; none when absent. */
  readonly retryAfter?: number | undefined
}

export interface Faults {
  calls: Fault | undefined
  messages: Fault | undefined
  createThenFail: boolean
  /** How many more times each status callback is delivered, with the same idempotency token. */
  webhookRetries: number
}

export interface SimulatorOptions {
  readonly accountSid: string
  readonly authToken: string
  /** Where callbacks go wrong (a closed app, say): reported here, never thrown. */
  readonly onCallbackError?: (url: string, error: unknown) => void
}

export const E164 = /^\+[1-9]\d{6,14}$/
export const newSid = (prefix: string) => prefix + randomBytes(16).toString("hex")
export const rfc2822 = (date: Date) => date.toUTCString().replace("GMT", "+0000")
export const rfc2822At = (at: string | undefined): string | null => (at === undefined ? null : rfc2822(new Date(at)))

/** A Twilio REST error body: `code`, `message`, `more_info`, `status` (and the headers given). */
export const restError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }), {
    status,
    headers: { "Content-Type": "application/json", ...headers }
  })

/** Everything the routes share, in memory for the life of the server. */
export interface SimulatorState {
  readonly options: SimulatorOptions
  readonly calls: Array<SimCall>
  readonly messages: Array<SimMessage>
  readonly scripts: Map<string, NumberScript>
  readonly faults: Faults
  readonly inProgress: Map<string, number>
  readonly maxConcurrent: Map<string, number>
  /** REST requests received per resource, faults and refusals included (`callReads`, `messageReads`: GETs; `callUpdates`: POSTs to a call). */
  readonly requests: { calls: number; messages: number; callReads: number; messageReads: number; callUpdates: number }
  /** Runs `f` in `ms`, unless the simulator is reset or closed first. */
  readonly later: (ms: number, f: () => void | Promise<void>) => void
  readonly reset: () => void
  readonly close: () => void
}

export const makeState = (options: SimulatorOptions): SimulatorState => {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const state: SimulatorState = {
    options,
    calls: [],
    messages: [],
    scripts: new Map(),
    faults: { calls: undefined, messages: undefined, createThenFail: false, webhookRetries: 0 },
    inProgress: new Map(),
    maxConcurrent: new Map(),
    requests: { calls: 0, messages: 0, callReads: 0, messageReads: 0, callUpdates: 0 },
    later: (ms, f) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        void f()
      }, ms)
      timers.add(timer)
    },
    reset: () => {
      state.close()
      state.calls.length = 0
      state.messages.length = 0
      state.scripts.clear()
      state.inProgress.clear()
      state.maxConcurrent.clear()
      Object.assign(state.requests, { calls: 0, messages: 0, callReads: 0, messageReads: 0, callUpdates: 0 })
      Object.assign(state.faults, { calls: undefined, messages: undefined, createThenFail: false, webhookRetries: 0 })
    },
    close: () => {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
    }
  }
  return state
}

/** Basic auth with the account's SID and token, on that account's path. */
export const authorized = (state: SimulatorState, header: string | undefined, account: string) => {
  const expected = `Basic ${Buffer.from(`${state.options.accountSid}:${state.options.authToken}`).toString("base64")}`
  return account === state.options.accountSid && header === expected
}

/** The fault to answer a create (or a read) with now, if one is set for it (and counts it down: reads and creates share the count). */
export const faultFor = (state: SimulatorState, kind: "calls" | "messages", request: "create" | "read" = "create"): Fault | undefined => {
  const fault = state.faults[kind]
  if (fault === undefined || (request === "read" && !fault.reads)) return undefined
  if (fault.remaining !== undefined && --fault.remaining <= 0) state.faults[kind] = undefined
  return fault
}

export const faultResponse = (fault: Fault) =>
  restError(fault.status, fault.code ?? (fault.status === 429 ? 20429 : 20500), "Simulated fault", fault.retryAfter === undefined ? {} : { "Retry-After": String(fault.retryAfter) })

export const form = async (request: Request): Promise<URLSearchParams> => new URLSearchParams(await request.text())
