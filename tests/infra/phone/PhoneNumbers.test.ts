import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { normalizePhone } from "../../../infra/phone/PhoneNumbers.ts"

describe("normalizePhone", () => {
  it("normalises common formats to E.164, reading local numbers in the business's country", () => {
    expect(normalizePhone("0176 1234 5678", "DE")).toMatchObject({ _tag: "E164", e164: "+4917612345678" })
    expect(normalizePhone("+49 (0)176-12345678")).toMatchObject({ _tag: "E164", e164: "+4917612345678" })
    expect(normalizePhone("(201) 555-0123", "US")).toMatchObject({ _tag: "E164", e164: "+12015550123" })
    expect(normalizePhone("00 44 7911 123456", "DE")).toMatchObject({ _tag: "E164", e164: "+447911123456" }) // international prefix
  })

  it("refuses what is not a number, an invalid number, and (when asked) one that cannot take an SMS", () => {
    expect(normalizePhone("call me maybe", "DE")._tag).toBe("Unparseable")
    expect(normalizePhone("0176 12", "DE")._tag).toBe("Invalid")
    expect(normalizePhone("030 1234567", "DE", true)).toMatchObject({ _tag: "NotMobile", type: "FIXED_LINE" })
    expect(normalizePhone("030 1234567", "DE", false)).toMatchObject({ _tag: "E164", e164: "+49301234567" })
    expect(normalizePhone("2015550123", "US", true)._tag).toBe("E164") // US numbers do not say: fixed line or mobile
  })

  it("property: never throws, and what it accepts is E.164 and normalises to itself", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.constantFrom(undefined, "DE", "US", "GB", "FR", "XX"), (input, country) => {
        const result = normalizePhone(input, country)
        if (result._tag !== "E164") return true
        expect(result.e164).toMatch(/^\+[1-9]\d{6,14}$/)
        expect(normalizePhone(result.e164)).toMatchObject({ _tag: "E164", e164: result.e164 })
        return true
      }),
      { numRuns: 500 }
    )
  })
})
