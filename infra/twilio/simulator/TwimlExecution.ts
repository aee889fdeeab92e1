/**
 * Executes the TwiML a call is answered with, verb by verb, as Twilio does,
 * and records what happened on the call (`documents`, `said`, `gathered`,
 * `dialed`, `twimlError`):
 *
 *   <Say>        heard: its text is added to `said` (also inside <Gather>)
 *   <Pause>      skipped, as are <Play> and the verbs it does not act out
 *   <Gather>     takes the next scripted entry of keys; with some, requests its
 *                `action` (default: this document's URL) with `Digits` and
 *                `FinishedOnKey` and executes the answer instead of the rest;
 *                with none, requests the action with empty `Digits` when
 *                `actionOnEmptyResult="true"`, else goes on with the next verb
 *   <Redirect>   requests its URL and executes the answer instead of the rest
 *   <Dial>       records the numbers dialled; the call then talks
 *   <Hangup/>    the call ends now (<Reject/> too)
 *   end          the call talks (then completes)
 *
 * URLs resolve against the document's own URL (an update's `Twiml`, which has
 * none, against the call's voice URL); `method="GET"` puts the parameters in
 * the query. No verb waits: a Gather's `timeout` or a Pause's `length` take
 * no time, so tests stay fast. A call executes at most MAX_DOCUMENTS
 * documents, so a redirect loop ends; a document that is not TwiML, or a URL
 * that cannot be resolved, stops the execution with `twimlError` and the
 * call talks as if the document had ended there.
 *
 * Executions are replaced, never run side by side: the caller's `current`
 * says whether this one still has the call (an update may have taken it
 * over, or the call ended); it is asked after every request.
 */
import { elementsOf, parseTwiml, textOf, type TwimlElement, TwimlSyntaxError } from "./Twiml.ts"
import type { SimCall } from "./Model.ts"

export type Method = "GET" | "POST"
/** Twilio's `method` attribute or parameter: GET when it says so, POST otherwise. */
export const methodOf = (text: string | null | undefined): Method => (text?.toUpperCase() === "GET" ? "GET" : "POST")

/** At most this many documents per call: the next one stops the execution (a redirect loop, say). */
export const MAX_DOCUMENTS = 20

/** A document to execute: TwiML in hand (the voice URL's answer, an update's `Twiml`), or a URL to request. */
export type TwimlSource =
  | { readonly twiml: string | undefined; readonly url: string | undefined }
  | { readonly request: string; readonly method: Method; readonly params: Readonly<Record<string, string>> }

/** How an execution ended: the call hangs up, talks (then completes), or was taken over. */
export type Ending = "hangup" | "talk" | "stopped"

export interface Execution {
  readonly call: SimCall
  /** The entries of keys still to come, one per `<Gather>`; taken from the front. */
  readonly digits: Array<string>
  /** Requests a document about the call (its parameters plus `params`); its text, or undefined when it failed. */
  readonly request: (url: string, method: Method, params: Readonly<Record<string, string>>) => Promise<string | undefined>
  /** Whether this execution still has the call. */
  readonly current: () => boolean
}

/** The keys a `<Gather>` hears from one entry: up to its `finishOnKey` (default #), at most `numDigits`. */
const keysOf = (gather: TwimlElement, entry: string) => {
  const finishOnKey = gather.attributes.finishOnKey ?? "#"
  const numDigits = Number(gather.attributes.numDigits ?? NaN)
  let digits = ""
  for (const key of entry) {
    if (key === finishOnKey) return { digits, finishedOnKey: key }
    digits += key
    if (digits.length === numDigits) break
  }
  return { digits, finishedOnKey: "" }
}

/** `target` resolved against `base` (undefined: `base` itself); undefined when it cannot be. */
const resolve = (target: string | undefined, base: string | undefined): string | undefined => {
  if (target === undefined) return base
  try {
    return new URL(target, base).href
  } catch {
    return undefined
  }
}

/** Executes one document's verbs: what comes next, another document or an ending. */
const perform = (run: Execution, root: TwimlElement, url: string | undefined): TwimlSource | Ending => {
  const { call } = run
  const base = url ?? call.url
  const follow = (verb: TwimlElement, target: string | undefined, params: Record<string, string>): TwimlSource | Ending => {
    const resolved = target === "" ? undefined : resolve(target, base)
    if (resolved === undefined) {
      call.twimlError = `<${verb.name}> names no URL that resolves against ${base ?? "a document without one"}: ${target ?? "(none)"}`
      return "talk"
    }
    return { request: resolved, method: methodOf(verb.attributes.method), params }
  }
  for (const verb of elementsOf(root)) {
    switch (verb.name) {
      case "Say":
        call.said.push(textOf(verb))
        break
      case "Gather": {
        for (const nested of elementsOf(verb)) if (nested.name === "Say") call.said.push(textOf(nested))
        const listens = (verb.attributes.input ?? "dtmf").split(/\s+/).includes("dtmf")
        const entry = listens ? run.digits.shift() : undefined
        const keys = entry === undefined ? undefined : keysOf(verb, entry)
        if (keys === undefined || keys.digits === "") {
          // no keys: Twilio asks the action anyway when told to (with empty Digits), else goes on with the next verb
          if (verb.attributes.actionOnEmptyResult === "true") return follow(verb, verb.attributes.action, { Digits: "", FinishedOnKey: "" })
          break
        }
        call.gathered.push(keys.digits)
        return follow(verb, verb.attributes.action, { Digits: keys.digits, FinishedOnKey: keys.finishedOnKey })
      }
      case "Redirect":
        return follow(verb, textOf(verb).trim(), {})
      case "Hangup":
      case "Reject":
        return "hangup"
      case "Dial": {
        const numbers = elementsOf(verb).filter((child) => child.name === "Number")
        const dialed = (numbers.length > 0 ? numbers.map(textOf) : [textOf(verb)]).map((number) => number.trim()).filter((number) => number !== "")
        call.dialed.push(...dialed)
        return "talk"
      }
      default:
        break
    }
  }
  return "talk"
}

/** Executes `first` and whatever it leads to, until the call hangs up, talks, or is taken over. */
export const executeTwiml = async (run: Execution, first: TwimlSource): Promise<Ending> => {
  const { call } = run
  for (let source = first; ; ) {
    if (call.documents.length >= MAX_DOCUMENTS) {
      call.twimlError = `more than ${MAX_DOCUMENTS} TwiML documents for one call (a redirect loop?): stopped executing`
      return "talk"
    }
    const url = "request" in source ? source.request : source.url
    const twiml = "request" in source ? await run.request(source.request, source.method, source.params) : source.twiml
    if (!run.current()) return "stopped"
    if (twiml === undefined) return "talk"
    call.documents.push({ url, twiml })
    call.twiml ??= twiml
    let root: TwimlElement
    try {
      root = parseTwiml(twiml)
    } catch (error) {
      call.twimlError = error instanceof TwimlSyntaxError ? error.message : String(error)
      return "talk"
    }
    const next = perform(run, root, url)
    if (typeof next === "string") return next
    source = next
  }
}
