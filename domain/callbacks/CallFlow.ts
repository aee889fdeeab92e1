/**
 * A call flow: what the answering agent hears, the optional keypad menu that lets them accept, decline or
 * send the caller to another department, the bridge to the visitor, and what the visitor hears when they
 * pick up. Described once, as a Schema (validated on save: every rule reported at its own path), and
 * turned into TwiML by the pure functions below.
 *
 *   agent answers --> announcement --> [menu] --accept---> bridge: <Dial> the visitor
 *                                          |--decline--> goodbye, hang up; the request goes on as if unanswered
 *                                          |--no key---> the menu's noInput (accept or decline)
 *                                          '--route----> hang up; the request moves to that department
 *
 * Announcement lines are templates over the request: `{name}`, `{topic}` and `{note}`. A line whose
 * placeholder has no value for this request (no note given) is left out, so "Their note: {note}" never
 * reads "Their note: ". Every text, the flow's and the visitor's, is escaped for XML, and characters
 * XML 1.0 cannot carry (control characters, lone surrogates) are dropped, so every valid flow renders
 * well-formed TwiML whatever a visitor typed.
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"

/** The request's values a line may name. */
export const PLACEHOLDERS = ["name", "topic", "note"] as const
export type Placeholder = (typeof PLACEHOLDERS)[number]

const PLACEHOLDER = /\{([^{}]*)\}/g

/** One spoken line: 1 to 500 characters, placeholders only among `{name}`, `{topic}`, `{note}`. */
export const Line = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(500, { message: () => "must be at most 500 characters" }),
  Schema.filter((line) => {
    const unknown = [...line.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((name) => !(PLACEHOLDERS as ReadonlyArray<string>).includes(name ?? ""))
    return unknown.length === 0 ? undefined : `names ${unknown.map((n) => `{${n}}`).join(", ")}; a line may name only {name}, {topic} and {note}`
  })
).annotations({ identifier: "CallFlowLine", description: "spoken text; {name}, {topic} and {note} are replaced by the request's, and a line naming one the request lacks is skipped" })

/** Twilio's text-to-speech voice: `man`, `woman`, `alice`, or an Amazon Polly or Google voice by name. */
export const Voice = Schema.String.pipe(
  Schema.pattern(/^(man|woman|alice|(Polly|Google)\.[A-Za-z0-9-]{1,60})$/, {
    message: () => "must be man, woman, alice, or a Polly./Google. voice name (such as Polly.Joanna-Neural)"
  })
).annotations({ identifier: "Voice" })

/** The language the text is spoken in, as BCP 47 (`en-US`, `de-DE`, `fr`). */
export const Language = Schema.String.pipe(
  Schema.pattern(/^[a-z]{2,3}(-[A-Z]{2})?$/, { message: () => "must be a language tag such as en-US" })
).annotations({ identifier: "Language" })

/** Lines spoken in one voice and language (Twilio's defaults when absent). */
export const Speech = Schema.Struct({
  lines: Schema.Array(Line).pipe(Schema.minItems(1, { message: () => "must have at least one line" }), Schema.maxItems(10, { message: () => "must have at most 10 lines" })),
  voice: Schema.optional(Voice),
  language: Schema.optional(Language)
}).annotations({ identifier: "Speech" })
export type Speech = typeof Speech.Type

/** A department by its key (lower-case letters, digits and dashes), as the business names them. */
export const DepartmentKey = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9-]{0,39}$/, { message: () => "must be 1 to 40 lower-case letters, digits and dashes" })
).annotations({ identifier: "DepartmentKey" })

export const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"] as const

/** A key of the menu: `accept` bridges the visitor, `decline` hangs up, `route` sends the request to `department`. */
export const MenuChoice = Schema.Struct({
  digit: Schema.Literal(...DIGITS),
  action: Schema.Literal("accept", "decline", "route"),
  department: Schema.optional(DepartmentKey)
}).pipe(
  Schema.filter((choice) =>
    choice.action === "route"
      ? choice.department === undefined ? { path: ["department"], message: "is required when the action is route" } : undefined
      : choice.department === undefined ? undefined : { path: ["department"], message: `is only for the action route, not ${choice.action}` }
  )
).annotations({ identifier: "MenuChoice" })
export type MenuChoice = typeof MenuChoice.Type

/** The keypad menu the agent hears after the announcement. */
export const Menu = Schema.Struct({
  prompt: Speech,
  choices: Schema.Array(MenuChoice).pipe(
    Schema.minItems(1, { message: () => "must offer at least one choice" }),
    Schema.filter((choices) => {
      const seen = new Set<string>()
      const twice = choices.map((c) => c.digit).filter((digit) => seen.has(digit) || (seen.add(digit), false))
      return twice.length === 0 ? undefined : `offers ${twice.join(", ")} more than once`
    })
  ),
  /** Seconds Twilio waits for a key. */
  timeoutSeconds: Schema.Int.pipe(Schema.between(1, 30, { message: () => "must be an integer from 1 to 30" })),
  /** What happens when the agent presses nothing (or a key that is not a choice, after the menu is heard again once). */
  noInput: Schema.Literal("accept", "decline")
}).annotations({ identifier: "Menu" })
export type Menu = typeof Menu.Type

/** The bridge: how long the visitor's phone rings, and whether the call is recorded. */
export const Bridge = Schema.Struct({
  timeoutSeconds: Schema.Int.pipe(Schema.between(5, 120, { message: () => "must be an integer from 5 to 120" })),
  record: Schema.Boolean
}).annotations({ identifier: "Bridge" })

export const CallFlow = Schema.Struct({
  /** What the agent hears first. */
  announcement: Speech,
  menu: Schema.optional(Menu),
  bridge: Bridge,
  /** What the visitor hears when they pick up, before they are connected. */
  visitor: Schema.optional(Speech)
}).annotations({ identifier: "CallFlow", description: "what the agent and the visitor hear, the agent's keypad menu, and the bridge" })
export type CallFlow = typeof CallFlow.Type

/** One saved version of a department's call flow; version 0 is the default flow, which is never saved. */
export const FlowVersion = Schema.Struct({
  department: Schema.String,
  /** 1, 2, ... per department. */
  version: Schema.Int,
  flow: CallFlow,
  createdAt: Schema.optional(Timestamp)
}).annotations({ identifier: "CallFlowVersion" })
export type FlowVersion = typeof FlowVersion.Type

/** The flow a department without one of its own uses: today's fixed announcement and bridge. */
export const defaultFlow: CallFlow = {
  announcement: { lines: ["Callback request from {name}.", "Topic: {topic}.", "Their note: {note}", "Connecting you now."] },
  bridge: { timeoutSeconds: 30, record: false }
}

/** The request's values for the placeholders, and where the agent's call goes next. */
export interface CallContext {
  readonly name?: string | undefined
  readonly topic?: string | undefined
  readonly note?: string | undefined
  /** The visitor's number (E.164), dialled by the bridge. */
  readonly visitor: string
  /** The caller id the visitor sees (E.164). */
  readonly callerId: string
  /** Where Twilio posts the agent's key (the menu's `<Gather action>`); none: back to the document's own URL, as Twilio does. */
  readonly menuUrl?: string | undefined
  /** The TwiML the visitor hears on picking up (`<Number url>`); none: connected at once. */
  readonly visitorUrl?: string | undefined
}

/** Text as XML 1.0 character data or attribute value: escaped, without the characters XML cannot carry. */
export const xmlText = (text: string): string =>
  text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/[<>&'"]/g, (ch) => ESCAPES[ch] ?? ch)

const ESCAPES: Readonly<Record<string, string>> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" }

const attributes = (values: Readonly<Record<string, string | number | undefined>>) =>
  Object.entries(values)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => ` ${key}="${xmlText(String(value))}"`)
    .join("")

/** The line with the request's values in, or undefined when it names a value the request lacks. */
export const fillLine = (line: string, values: Partial<Record<Placeholder, string | undefined>>): string | undefined => {
  let missing = false
  const filled = line.replace(PLACEHOLDER, (_, name: Placeholder) => {
    const value = values[name]?.trim()
    if (value === undefined || value === "") missing = true
    return value ?? ""
  })
  return missing ? undefined : filled
}

/** The lines this request hears, filled (a `<Say>` each). */
export const spokenLines = (speech: Speech, context: Partial<CallContext>): ReadonlyArray<string> =>
  speech.lines.flatMap((line) => {
    const filled = fillLine(line, { name: context.name, topic: context.topic, note: context.note })
    return filled === undefined ? [] : [filled]
  })

const say = (speech: Speech, context: Partial<CallContext>) => {
  const voice = attributes({ voice: speech.voice, language: speech.language })
  return spokenLines(speech, context)
    .map((line) => `<Say${voice}>${xmlText(line)}</Say>`)
    .join("")
}

const document = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`

const bridgeVerbs = (flow: CallFlow, context: CallContext) =>
  `<Dial${attributes({ callerId: context.callerId, timeout: flow.bridge.timeoutSeconds, record: flow.bridge.record ? "record-from-answer-dual" : undefined })}>` +
  `<Number${attributes({ url: context.visitorUrl, method: context.visitorUrl === undefined ? undefined : "POST" })}>${xmlText(context.visitor)}</Number></Dial>`

const noInputVerbs = (flow: CallFlow, menu: Menu, context: CallContext) => (menu.noInput === "accept" ? bridgeVerbs(flow, context) : goodbye("Goodbye."))

/** The menu, then what its noInput says: Twilio runs the verbs after `<Gather>` when no key is pressed. */
const menuVerbs = (flow: CallFlow, menu: Menu, context: CallContext) =>
  `<Gather${attributes({ input: "dtmf", numDigits: 1, timeout: menu.timeoutSeconds, action: context.menuUrl, method: "POST", actionOnEmptyResult: context.menuUrl === undefined ? undefined : "true" })}>${say(menu.prompt, context)}</Gather>` +
  noInputVerbs(flow, menu, context)

const sayPlain = (line: string) => `<Say>${xmlText(line)}</Say>`
const goodbye = (line: string) => `${sayPlain(line)}<Hangup/>`

/** A document that says `line` and hangs up (a call the server will not bridge). */
export const goodbyeTwiml = (line: string): string => document(goodbye(line))

/** What the agent hears on answering: the announcement, then the menu (or the bridge when there is none). */
export const agentTwiml = (flow: CallFlow, context: CallContext): string =>
  document(say(flow.announcement, context) + (flow.menu === undefined ? bridgeVerbs(flow, context) : menuVerbs(flow, flow.menu, context)))

/**
 * What the agent's keys ask for: no key (the menu timed out; Twilio asks with empty `Digits`) is the menu's
 * `noInput`, a key the menu offers its choice's action, any other `unknown`.
 */
export const actionOf = (flow: CallFlow, digits: string): MenuChoice["action"] | "unknown" =>
  digits === "" && flow.menu !== undefined ? flow.menu.noInput : choiceOf(flow, digits).action

/** The agent's key, read against the menu: the choice's action, or `unknown` for a key the menu does not offer. */
export const choiceOf = (flow: CallFlow, digits: string): MenuChoice | { readonly action: "unknown" } =>
  flow.menu?.choices.find((c) => c.digit === digits) ?? { action: "unknown" }

/**
 * The TwiML answering the agent's key. `repeats` is how often the menu was already heard again: an unknown
 * key hears it once more, then the menu's noInput applies. A route hangs up the agent (the server moves the
 * request to the department; its chain is dialled afresh).
 */
export const menuAnswerTwiml = (flow: CallFlow, context: CallContext, digits: string, repeats: number): string => {
  switch (actionOf(flow, digits)) {
    case "accept":
      return document(bridgeVerbs(flow, context))
    case "decline":
      return document(goodbye("Goodbye."))
    case "route":
      return document(goodbye("Transferring this request. Goodbye."))
    case "unknown":
      if (flow.menu === undefined) return document(bridgeVerbs(flow, context))
      return document(repeats < 1 ? menuVerbs(flow, flow.menu, context) : noInputVerbs(flow, flow.menu, context))
  }
}

/** The answer to a route the server refused (the bound reached, the department gone): said so, then the menu's noInput. */
export const routeRefusedTwiml = (flow: CallFlow, context: CallContext): string =>
  document(sayPlain("This request cannot be transferred.") + (flow.menu === undefined ? bridgeVerbs(flow, context) : noInputVerbs(flow, flow.menu, context)))

/** What the visitor hears on picking up, before the bridge connects them (the `<Number url>` document). */
export const visitorTwiml = (flow: CallFlow, context: Partial<CallContext>): string => document(flow.visitor === undefined ? "" : say(flow.visitor, context))
