import { describe, expect, it } from "vitest"
import { elementsOf, parseTwiml, textOf } from "../../../infra/twilio/simulator/Twiml.ts"

describe("the simulator's TwiML reader", () => {
  it("reads the declaration, elements, attributes in either quote, self-closing tags and references", () => {
    const root = parseTwiml(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Say voice='alice' language="en-US">Tom &amp; Jerry &lt;3 &#233;&#x1F600; &quot;hi&apos;</Say>\n  <Hangup/>\n</Response>\n`
    )
    const [say, hangup] = elementsOf(root)
    expect(say).toEqual({ name: "Say", attributes: { voice: "alice", language: "en-US" }, children: ["Tom & Jerry <3 é😀 \"hi'"] })
    expect(hangup).toEqual({ name: "Hangup", attributes: {}, children: [] })
    expect(textOf(root).trim()).toBe("Tom & Jerry <3 é😀 \"hi'")
  })

  it.each([
    ["an unescaped < in text", "<Response><Say>a < b</Say></Response>", "expected an element name"],
    ["an unescaped & in text", "<Response><Say>a & b</Say></Response>", "an & that starts no reference"],
    ["an unknown entity", "<Response><Say>&nbsp;</Say></Response>", "an unknown entity &nbsp;"],
    ["a < in an attribute", '<Response><Dial callerId="<x>"/></Response>', "an unescaped <"],
    ["a control character", "<Response><Say>a\u0001b</Say></Response>", "the character U+0001"],
    ["a lone surrogate", "<Response><Say>a\uD800b</Say></Response>", "the character U+D800"],
    ["a reference to a control character", "<Response><Say>&#1;</Say></Response>", "a reference to a character XML cannot carry"],
    ["a mismatched closing tag", "<Response><Say>x</Dial></Response>", "</Dial> closes <Say>"],
    ["an unclosed element", "<Response><Say>x", "<Say> is not closed"],
    ["a duplicate attribute", '<Response><Dial timeout="1" timeout="2"/></Response>', "the attribute timeout twice"],
    ["attributes run together", '<Response><Dial a="1"b="2"/></Response>', "expected a space"],
    ["an unquoted attribute", "<Response><Dial timeout=5/></Response>", "expected a quoted value for timeout"],
    ["a second root", "<Response/><Response/>", "content after the root element"],
    ["a comment", "<Response><!-- x --></Response>", "comments, CDATA"],
    ["another root", "<Dial/>", "the root is <Dial>, not <Response>"]
  ])("refuses %s", (_, text, detail) => {
    expect(() => parseTwiml(text)).toThrow(detail)
  })
})
