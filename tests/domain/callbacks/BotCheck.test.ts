import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { judge } from "../../../domain/callbacks/BotCheck.ts"

const host = fc.domain().map((d) => d.toLowerCase())

describe("judging a siteverify answer", () => {
  it("passes a success on any host when the business lists no origins", () => {
    fc.assert(
      fc.property(fc.option(host, { nil: undefined }), (hostname) => {
        expect(judge({ success: true, "error-codes": [], hostname }, [])).toEqual({ passed: true })
      })
    )
  })

  it("with allowed origins, passes a success only when it was solved on one of their hosts (whatever the port or scheme)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(host, { minLength: 2, maxLength: 5 }), fc.nat(), (hosts, pick) => {
        const [outside, ...listed] = hosts as [string, ...Array<string>]
        const origins = listed.map((h, i) => (i % 2 === 0 ? `https://${h}` : `http://${h}:8080`))
        const inside = listed[pick % listed.length] as string
        expect(judge({ success: true, "error-codes": [], hostname: inside.toUpperCase() }, origins)).toEqual({ passed: true })
        expect(judge({ success: true, "error-codes": [], hostname: outside }, origins)).toEqual({ passed: false, reasons: ["hostname-mismatch"] })
        expect(judge({ success: true, "error-codes": [], hostname: undefined }, origins)).toEqual({ passed: false, reasons: ["hostname-mismatch"] })
      })
    )
  })

  it("fails an unsuccessful answer with the provider's codes, or a reason of its own when it gives none", () => {
    expect(judge({ success: false, "error-codes": ["invalid-input-response"], hostname: "shop.example" }, ["https://shop.example"])).toEqual({
      passed: false,
      reasons: ["invalid-input-response"]
    })
    expect(judge({ success: false, "error-codes": [] }, [])).toEqual({ passed: false, reasons: ["not-successful"] })
  })
})
