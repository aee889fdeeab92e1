/**
 * The Twilio webhook bodies as the validator decodes them: the parameters
 * this app reads are taken when they have Twilio's form and count as absent
 * otherwise, so no report is ever refused for its parameters; every other
 * parameter passes untouched.
 */
import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CallParams, MessageParams } from "../../../../src/http/contract/Twilio.ts"
import { decodeAll } from "../../../../src/http/Validate.ts"

const SID = `CA${"0123456789abcdef".repeat(2)}`

const decoded = (schema: typeof CallParams | typeof MessageParams, form: Record<string, string>) => {
  const result = decodeAll(schema, form, "body")
  if (Either.isLeft(result)) throw new Error(`refused: ${JSON.stringify(result.left)}`)
  return result.right as Record<string, unknown>
}

describe("Twilio call parameters", () => {
  it("takes the parameters in Twilio's forms, typed", () => {
    expect(decoded(CallParams, { CallSid: SID, CallStatus: "in-progress", SequenceNumber: "3", ErrorCode: "31005", CallDuration: "7", AccountSid: "AC1" })).toEqual({
      CallSid: SID,
      CallStatus: "in-progress",
      SequenceNumber: 3,
      ErrorCode: "31005",
      CallDuration: "7",
      AccountSid: "AC1"
    })
    expect(decoded(CallParams, { SequenceNumber: "0" }).SequenceNumber).toBe(0)
    expect(decoded(CallParams, { SequenceNumber: String(2 ** 31 - 1) }).SequenceNumber).toBe(2 ** 31 - 1)
  })

  it("counts a parameter of another form as absent", () => {
    for (const [name, value] of [
      ["CallSid", "CAnope"],
      ["CallSid", `SM${SID.slice(2)}`],
      ["CallSid", `${SID}0`],
      ["CallStatus", "exploded"],
      ["CallStatus", "COMPLETED"],
      ["SequenceNumber", "-1"],
      ["SequenceNumber", "1.5"],
      ["SequenceNumber", String(2 ** 31)],
      ["SequenceNumber", "abc"],
      ["ErrorCode", "12a"],
      ["ErrorCode", "12345678901"],
      ["ErrorCode", ""]
    ] as const) {
      const params = decoded(CallParams, { [name]: value, CallStatus: name === "CallStatus" ? value : "ringing" })
      expect(params[name], `${name}=${value}`).toBeUndefined()
    }
  })

  it("never refuses a form, whatever its parameters", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.constantFrom("CallSid", "CallStatus", "SequenceNumber", "ErrorCode"), fc.string()), fc.string()), (form) => {
        const params = decoded(CallParams, form)
        if (params.CallSid !== undefined) expect(params.CallSid).toMatch(/^CA[0-9a-fA-F]{32}$/)
        if (params.SequenceNumber !== undefined) expect(Number.isInteger(params.SequenceNumber)).toBe(true)
        if (params.ErrorCode !== undefined) expect(params.ErrorCode).toMatch(/^\d{1,10}$/)
      })
    )
  })
})

describe("Twilio message parameters", () => {
  it("takes a status word and leaves out anything else", () => {
    expect(decoded(MessageParams, { MessageStatus: "delivered", SmsStatus: "delivered", SequenceNumber: "5", MessageSid: "SMx" })).toEqual({
      MessageStatus: "delivered",
      SmsStatus: "delivered",
      SequenceNumber: 5,
      MessageSid: "SMx"
    })
    expect(decoded(MessageParams, { MessageStatus: "Delivered" }).MessageStatus).toBeUndefined()
    expect(decoded(MessageParams, { MessageStatus: "d".repeat(21) }).MessageStatus).toBeUndefined()
    expect(decoded(MessageParams, { MessageStatus: "<b>", SmsStatus: "failed" })).toMatchObject({ MessageStatus: undefined, SmsStatus: "failed" })
  })
})
