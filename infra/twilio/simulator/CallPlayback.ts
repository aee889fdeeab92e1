/**
 * Plays a call through its number's script, as Twilio progresses a call:
 *
 *   queued --queueMs--> initiated -> ringing --afterMs--> in-progress --TwiML, talkMs--> completed
 *                                                     |               \--<Hangup/>, update--> completed (at once)
 *                                                     \-> busy | no-answer | failed
 *   queued, initiated, ringing --update--> canceled
 *
 * On answer the voice URL's TwiML is executed (TwimlExecution.ts); when it
 * ends without hanging up the call talks for talkMs, then completes. An
 * update (`Status`, `Url`, `Twiml`) takes the call over: what was executing
 * or talking stops, and a call hung up before its answer is canceled. A
 * call reaches a final phase once; every later step finds it ended and does
 * nothing. REST shows `initiated` as `queued` (it is not in Twilio's status enum).
 * Status callbacks go only for the events the create asked for
 * (`StatusCallbackEvent`; `completed` alone by default), numbered by
 * `SequenceNumber` from 0 over the callbacks sent. A final report carries
 * `CallDuration` and `SipResponseCode`, and `ErrorCode` when the script names one.
 */
import type { Deliver } from "./Callbacks.ts"
import { executeTwiml, type Method, type TwimlSource } from "./TwimlExecution.ts"
import { type CallEvent, type CallPhase, defaultScript, FINAL_PHASES, isFinal, rfc2822, type SimCall, type SimulatorState } from "./Model.ts"

const EVENT_OF: Partial<Record<CallPhase, CallEvent>> = { initiated: "initiated", ringing: "ringing", "in-progress": "answered" }
const SIP_RESPONSE: Partial<Record<CallPhase, string>> = { completed: "200", busy: "486", "no-answer": "487", failed: "500", canceled: "487" }

/** The parameters of every request Twilio makes about a call (voice URL and status callbacks). */
export const callParams = (state: SimulatorState, call: SimCall): Record<string, string> => ({
  AccountSid: state.options.accountSid,
  CallSid: call.sid,
  From: call.from,
  To: call.to,
  Called: call.to,
  Caller: call.from,
  Direction: "outbound-api",
  ApiVersion: "2010-04-01",
  CallStatus: call.phase,
  ...(call.answeredBy === undefined ? {} : { AnsweredBy: call.answeredBy })
})

/** An answered call's execution: the keys still to press, how long it talks, and which execution has it. */
interface Answered {
  readonly digits: Array<string>
  readonly talkMs: number
  generation: number
}

/** Whole seconds since `at`, at least 1 (as the talk of a completed call). */
const secondsSince = (at: string) => Math.max(1, Math.round((Date.now() - Date.parse(at)) / 1000))

export const makePlayback = (state: SimulatorState, deliver: Deliver) => {
  const answered = new WeakMap<SimCall, Answered>()

  const moveTo = async (call: SimCall, phase: CallPhase) => {
    if (isFinal(call)) return
    const now = new Date().toISOString()
    call.phase = phase
    call.updatedAt = now
    if (phase === "initiated") call.startedAt = now
    const final = FINAL_PHASES.includes(phase)
    if (final) {
      call.endedAt = now
      state.inProgress.set(call.to, (state.inProgress.get(call.to) ?? 1) - 1)
    }
    const event = final ? "completed" : EVENT_OF[phase]
    if (call.statusCallback === undefined || event === undefined || !call.events.has(event)) return
    const report: Record<string, string> = {
      ...callParams(state, call),
      CallbackSource: "call-progress-events",
      SequenceNumber: String(call.sequence++),
      Timestamp: rfc2822(new Date())
    }
    if (final) {
      report.CallDuration = String(call.durationSeconds ?? 0)
      report.SipResponseCode = SIP_RESPONSE[phase] ?? "500"
      if (call.errorCode !== undefined) report.ErrorCode = String(call.errorCode)
    }
    await deliver(call.statusCallback, report, { retried: true })
  }

  /** Ends a call now: completed once answered (its duration so far), canceled before. */
  const hangUp = (call: SimCall) => {
    if (isFinal(call)) return Promise.resolve()
    if (call.phase !== "in-progress") return moveTo(call, "canceled")
    call.durationSeconds = secondsSince(call.answeredAt ?? call.updatedAt)
    return moveTo(call, "completed")
  }

  /** Takes an answered call over for a new execution: whether that execution still has it. */
  const takeOver = (call: SimCall, session: Answered) => {
    const generation = ++session.generation
    return () => session.generation === generation && !isFinal(call)
  }

  /** Executes `source` on the call; then it hangs up, or talks for talkMs and completes. */
  const run = async (call: SimCall, session: Answered, current: () => boolean, source: TwimlSource) => {
    const request = (url: string, method: Method, params: Readonly<Record<string, string>>) =>
      deliver(url, { ...callParams(state, call), ...params }, { retried: false, method })
    const ending = await executeTwiml({ call, digits: session.digits, request, current }, source)
    if (ending === "hangup") return hangUp(call)
    if (ending === "talk") {
      state.later(session.talkMs, () => {
        if (!current()) return
        call.durationSeconds = Math.max(1, Math.round(session.talkMs / 1000))
        return moveTo(call, "completed")
      })
    }
  }

  /** Starts playing a call just created. */
  const start = (call: SimCall) => {
    const script = state.scripts.get(call.to) ?? defaultScript
    const start = script.queueMs
    // each step schedules the next: timers of different lengths set together may fire out of order
    // when the event loop is late (Node runs every due timer of one length's list before the next list)
    const outcomeAfter = Math.max(50, script.afterMs) - 40
    // (a step's phase is set at once; its callback is delivered meanwhile, as before)
    state.later(start + 20, () => {
      state.later(20, () => {
        state.later(outcomeAfter, () => outcome())
        return moveTo(call, "ringing")
      })
      return moveTo(call, "initiated")
    })
    const outcome = async () => {
      if (isFinal(call)) return
      if (script.outcome !== "answered") {
        call.errorCode = script.errorCode
        return moveTo(call, script.outcome)
      }
      if (call.machineDetection !== undefined) {
        const machine = call.machineDetection === "DetectMessageEnd" ? "machine_end_beep" : "machine_start"
        call.answeredBy = script.answeredBy === "machine" ? machine : "human"
      }
      const session: Answered = { digits: [...script.digits], talkMs: script.talkMs, generation: 0 }
      answered.set(call, session)
      const current = takeOver(call, session)
      call.phase = "in-progress"
      call.answeredAt = new Date().toISOString()
      const twiml = call.url === undefined ? undefined : await deliver(call.url, callParams(state, call), { retried: false })
      await moveTo(call, "in-progress")
      if (current()) await run(call, session, current, { twiml, url: call.url })
    }
  }

  return {
    start,
    hangUp,
    /** Executes `source` on an answered call in place of whatever it was executing or talking; false when it is not in progress. */
    execute: (call: SimCall, source: TwimlSource): boolean => {
      const session = answered.get(call)
      if (session === undefined || call.phase !== "in-progress") return false
      void run(call, session, takeOver(call, session), source)
      return true
    }
  }
}
