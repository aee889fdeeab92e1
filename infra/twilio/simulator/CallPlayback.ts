/**
 * Plays a call through its number's script, as Twilio progresses a call:
 *
 *   queued --queueMs--> initiated -> ringing --afterMs--> in-progress --talkMs--> completed
 *                                                     \-> busy | no-answer | failed
 *
 * REST shows `initiated` as `queued` (it is not in Twilio's status enum).
 * Status callbacks go only for the events the create asked for
 * (`StatusCallbackEvent`; `completed` alone by default), numbered by
 * `SequenceNumber` from 0 over the callbacks sent. A final report carries
 * `CallDuration` and `SipResponseCode`, and `ErrorCode` when the script names one.
 */
import type { Deliver } from "./Callbacks.ts"
import { elementsOf, parseTwiml, textOf, type TwimlElement, TwimlSyntaxError } from "./Twiml.ts"
import { type CallEvent, type CallPhase, defaultScript, FINAL_PHASES, rfc2822, type SimCall, type SimulatorState } from "./Model.ts"

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

/** Reads the voice URL's answer as Twilio would: what each `<Say>` says, or why the document is not TwiML. */
const hear = (call: SimCall, twiml: string) => {
  try {
    const says: Array<string> = []
    const walk = (element: TwimlElement): void => {
      if (element.name === "Say") says.push(textOf(element))
      else elementsOf(element).forEach(walk)
    }
    walk(parseTwiml(twiml))
    call.said = says
  } catch (error) {
    call.twimlError = error instanceof TwimlSyntaxError ? error.message : String(error)
  }
}

export const makePlayback = (state: SimulatorState, deliver: Deliver) => {
  const moveTo = async (call: SimCall, phase: CallPhase) => {
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

  /** Starts playing a call just created. */
  return (call: SimCall) => {
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
      if (script.outcome !== "answered") {
        call.errorCode = script.errorCode
        return moveTo(call, script.outcome)
      }
      if (call.machineDetection !== undefined) {
        const machine = call.machineDetection === "DetectMessageEnd" ? "machine_end_beep" : "machine_start"
        call.answeredBy = script.answeredBy === "machine" ? machine : "human"
      }
      call.phase = "in-progress"
      if (call.url !== undefined) {
        call.twiml = await deliver(call.url, callParams(state, call), { retried: false })
        if (call.twiml !== undefined) hear(call, call.twiml)
      }
      await moveTo(call, "in-progress")
      state.later(script.talkMs, () => {
        call.durationSeconds = Math.max(1, Math.round(script.talkMs / 1000))
        return moveTo(call, "completed")
      })
    }
  }
}
