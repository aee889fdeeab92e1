import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  agentTwiml,
  type CallContext,
  CallFlow,
  defaultFlow,
  DIGITS,
  fillLine,
  type MenuChoice,
  menuAnswerTwiml,
  spokenLines,
  type Speech,
  visitorTwiml
} from "../../../domain/callbacks/CallFlow.ts"
import { decodeAll } from "../../../src/http/Validate.ts"
import { elementsOf, parseTwiml, textOf, type TwimlElement } from "../../../infra/twilio/simulator/Twiml.ts"

const decode = Schema.decodeUnknownEither(CallFlow, { errors: "all" })

/** The problems of an invalid flow as the API reports them (`pointer: message`, one per member). */
const problems = (input: unknown): ReadonlyArray<string> =>
  Either.match(decodeAll(CallFlow, input, "body"), { onLeft: (errors) => errors.map((e) => `${e.path}: ${e.message}`), onRight: () => [] })

const context: CallContext = { name: "Ada", topic: "billing", note: "after 5pm", visitor: "+14155550123", callerId: "+14155550100", menuUrl: "https://x.test/menu?a=1&b=2" }

/** What XML can carry of `text` (the renderer drops the rest). */
const carried = (text: string) => text.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")

// ---- arbitraries: valid flows, and request values with everything a visitor could type ----

/** Strings with XML's special characters, control characters, lone surrogates, emoji and braces. */
const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom("<", ">", "&", '"', "'", "{", "}", "\u0000", "\u0008", "\uD800", "\uDFFF", "😀", "é", " ", "a", "]]>", "&amp;"), maxLength: 20 })
)
const line = fc
  .tuple(fc.array(fc.oneof(hostile.filter((s) => !/\{[^{}]*\}/.test(s)), fc.constantFrom("{name}", "{topic}", "{note}")), { minLength: 1, maxLength: 4 }))
  .map(([parts]) => parts.join("").slice(0, 500))
  .filter((text) => text.length > 0 && !/\{(?!name\}|topic\}|note\})[^{}]*\}/.test(text))
const speech: fc.Arbitrary<Speech> = fc.record(
  {
    lines: fc.array(line, { minLength: 1, maxLength: 4 }),
    voice: fc.constantFrom("man", "woman", "alice", "Polly.Joanna-Neural", "Google.en-US-Standard-C"),
    language: fc.constantFrom("en-US", "de-DE", "fr")
  },
  { requiredKeys: ["lines"] }
)
const choices: fc.Arbitrary<ReadonlyArray<MenuChoice>> = fc
  .uniqueArray(fc.constantFrom(...DIGITS), { minLength: 1, maxLength: 5 })
  .chain((digits) =>
    fc.tuple(
      ...digits.map((digit) =>
        fc.oneof(
          fc.constantFrom("accept" as const, "decline" as const).map((action): MenuChoice => ({ digit, action })),
          fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/).map((department): MenuChoice => ({ digit, action: "route", department }))
        )
      )
    )
  )
const flow: fc.Arbitrary<CallFlow> = fc.record(
  {
    announcement: speech,
    menu: fc.record({ prompt: speech, choices, timeoutSeconds: fc.integer({ min: 1, max: 30 }), noInput: fc.constantFrom("accept" as const, "decline" as const) }),
    bridge: fc.record({ timeoutSeconds: fc.integer({ min: 5, max: 120 }), record: fc.boolean() }),
    visitor: speech
  },
  { requiredKeys: ["announcement", "bridge"] }
)
const callContext: fc.Arbitrary<CallContext> = fc.record(
  {
    name: hostile,
    topic: hostile,
    note: hostile,
    visitor: fc.stringMatching(/^\+[1-9]\d{6,14}$/),
    callerId: fc.stringMatching(/^\+[1-9]\d{6,14}$/),
    menuUrl: fc.webUrl({ withQueryParameters: true }),
    visitorUrl: fc.webUrl({ withQueryParameters: true })
  },
  { requiredKeys: ["visitor", "callerId", "menuUrl"] }
)

// ---- what a rendered document must say ----

const says = (elements: ReadonlyArray<TwimlElement>) => elements.filter((e) => e.name === "Say")

const expectSays = (elements: ReadonlyArray<TwimlElement>, spoken: Speech, values: CallContext) => {
  const expected = spokenLines(spoken, values).map(carried)
  expect(elements.map(textOf)).toEqual(expected)
  for (const say of elements) expect(say.attributes).toEqual({ ...(spoken.voice && { voice: spoken.voice }), ...(spoken.language && { language: spoken.language }) })
}

const expectBridge = (dial: TwimlElement | undefined, f: CallFlow, values: CallContext) => {
  expect(dial?.name).toBe("Dial")
  expect(dial?.attributes).toEqual({
    callerId: values.callerId,
    timeout: String(f.bridge.timeoutSeconds),
    ...(f.bridge.record && { record: "record-from-answer-dual" })
  })
  const [number] = elementsOf(dial as TwimlElement)
  expect(number?.name).toBe("Number")
  expect(textOf(number as TwimlElement)).toBe(values.visitor)
  expect(number?.attributes.url).toBe(values.visitorUrl)
}

describe("call flows", () => {
  it("accept a full flow, and a flow with only an announcement and a bridge", () => {
    expect(
      problems({
        announcement: { lines: ["Callback from {name} about {topic}.", "Note: {note}"], voice: "Polly.Joanna-Neural", language: "en-US" },
        menu: {
          prompt: { lines: ["Press 1 to take it, 2 to send it to billing, 3 to decline."] },
          choices: [{ digit: "1", action: "accept" }, { digit: "2", action: "route", department: "billing" }, { digit: "3", action: "decline" }],
          timeoutSeconds: 5,
          noInput: "accept"
        },
        bridge: { timeoutSeconds: 30, record: true },
        visitor: { lines: ["Connecting you to {topic}."] }
      })
    ).toEqual([])
    expect(problems(defaultFlow)).toEqual([])
  })

  it("refuse an invalid flow, each problem at its own path", () => {
    expect(
      problems({
        announcement: { lines: ["Hello {nmae} and {}"], voice: "robot", language: "english" },
        menu: {
          prompt: { lines: [] },
          choices: [{ digit: "1", action: "route" }, { digit: "1", action: "accept", department: "sales" }, { digit: "A", action: "accept" }],
          timeoutSeconds: 0,
          noInput: "maybe"
        },
        bridge: { timeoutSeconds: 3, record: "yes" }
      })
    ).toEqual(
      expect.arrayContaining([
        "/announcement/lines/0: names {nmae}, {}; a line may name only {name}, {topic} and {note}",
        "/announcement/voice: must be man, woman, alice, or a Polly./Google. voice name (such as Polly.Joanna-Neural)",
        "/announcement/language: must be a language tag such as en-US",
        "/menu/prompt/lines: must have at least one line",
        "/menu/choices/0/department: is required when the action is route",
        "/menu/choices/1/department: is only for the action route, not accept",
        '/menu/choices/2/digit: Expected "0", actual "A"',
        "/menu/timeoutSeconds: must be an integer from 1 to 30",
        '/menu/noInput: Expected "accept", actual "maybe"',
        "/bridge/timeoutSeconds: must be an integer from 5 to 120",
        '/bridge/record: Expected boolean, actual "yes"'
      ])
    )
    expect(
      problems({
        announcement: { lines: ["x"] },
        menu: { prompt: { lines: ["p"] }, choices: [{ digit: "1", action: "accept" }, { digit: "1", action: "decline" }], timeoutSeconds: 5, noInput: "accept" },
        bridge: { timeoutSeconds: 30, record: false }
      })
    ).toEqual(["/menu/choices: offers 1 more than once"])
  })

  it("skip a line naming a value the request lacks, and never substitute inside a value", () => {
    expect(fillLine("Their note: {note}", { note: undefined })).toBeUndefined()
    expect(fillLine("Their note: {note}", { note: "   " })).toBeUndefined()
    expect(fillLine("From {name}: {note}", { name: "{note}", note: "hi" })).toBe("From {note}: hi")
    expect(spokenLines(defaultFlow.announcement, { name: "Ada" })).toEqual(["Callback request from Ada.", "Connecting you now."])
  })

  it("render the default flow as the announcement and the bridge, the visitor's texts escaped", () => {
    const twiml = agentTwiml(defaultFlow, { ...context, name: "Ada <script>", note: 'say "hi" & go' })
    expect(twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Callback request from Ada &lt;script&gt;.</Say><Say>Topic: billing.</Say>' +
        "<Say>Their note: say &quot;hi&quot; &amp; go</Say><Say>Connecting you now.</Say>" +
        '<Dial callerId="+14155550100" timeout="30"><Number>+14155550123</Number></Dial></Response>'
    )
  })

  it("property: every valid flow renders well-formed TwiML for any request, saying exactly its lines", () => {
    fc.assert(
      fc.property(flow, callContext, (f, values) => {
        expect(Either.isRight(decode(f))).toBe(true)
        const verbs = elementsOf(parseTwiml(agentTwiml(f, values)))
        const announced = says(verbs.slice(0, spokenLines(f.announcement, values).length))
        expectSays(announced, f.announcement, values)
        const rest = verbs.slice(announced.length)
        if (f.menu === undefined) {
          expect(rest).toHaveLength(1)
          expectBridge(rest[0], f, values)
          return
        }
        const [gather, ...afterGather] = rest
        expect(gather?.name).toBe("Gather")
        // with an answer URL, no key is answered there too (the server hears the menu's noInput); without one Twilio runs what follows
        expect(gather?.attributes).toEqual({
          input: "dtmf",
          numDigits: "1",
          timeout: String(f.menu.timeoutSeconds),
          method: "POST",
          ...(values.menuUrl === undefined ? {} : { action: values.menuUrl, actionOnEmptyResult: "true" })
        })
        expectSays(elementsOf(gather as TwimlElement), f.menu.prompt, values)
        if (f.menu.noInput === "accept") expectBridge(afterGather[0], f, values)
        else expect(afterGather.map((e) => e.name)).toEqual(["Say", "Hangup"])
      })
    )
  })

  it("property: every key the agent presses (or none) is answered with well-formed TwiML doing what the menu says", () => {
    fc.assert(
      fc.property(flow, callContext, fc.oneof(fc.constantFrom(...DIGITS), fc.string({ maxLength: 3 })), fc.nat(3), (f, values, digits, repeats) => {
        const verbs = elementsOf(parseTwiml(menuAnswerTwiml(f, values, digits, repeats)))
        // no key: the menu's noInput, as if it were the choice
        const choice = digits === "" && f.menu !== undefined ? { action: f.menu.noInput } : f.menu?.choices.find((c) => c.digit === digits)
        const names = verbs.map((e) => e.name)
        if (f.menu === undefined || choice?.action === "accept") expectBridge(verbs[0], f, values)
        else if (choice !== undefined) expect(names).toEqual(["Say", "Hangup"])
        else if (repeats === 0) expect(names).toEqual(["Gather", ...(f.menu.noInput === "accept" ? ["Dial"] : ["Say", "Hangup"])])
        else expect(names).toEqual(f.menu.noInput === "accept" ? ["Dial"] : ["Say", "Hangup"])
      })
    )
  })

  it("property: what the visitor hears is well-formed and exactly its lines", () => {
    fc.assert(
      fc.property(flow, callContext, (f, values) => {
        const verbs = elementsOf(parseTwiml(visitorTwiml(f, values)))
        if (f.visitor === undefined) expect(verbs).toEqual([])
        else expectSays(verbs, f.visitor, values)
      })
    )
  })
})
