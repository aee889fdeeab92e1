/** The pool of SMS senders and their rate, read from the environment: defaults, and values refused at start-up naming their variable. */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import { SmsSenderConfig } from "../../../infra/twilio/TwilioGateway.ts"

const load = (env: Record<string, string>) =>
  Effect.runPromiseExit(Effect.withConfigProvider(SmsSenderConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("SMS sender configuration", () => {
  it("defaults to no pool of its own (TWILIO_FROM alone) at a long code's 1 text per second", async () => {
    const exit = await load({})
    if (!Exit.isSuccess(exit)) throw new Error("the defaults must load")
    expect(exit.value).toEqual({ senders: Option.none(), rate: 1 })
  })

  it("reads a pool (spaces around commas allowed) and a fractional rate", async () => {
    const exit = await load({ TWILIO_SMS_SENDERS: "+14155550101, +14155550102 ,+18005550100", SMS_SENDER_RATE: "0.5" })
    if (!Exit.isSuccess(exit)) throw new Error(`must load: ${String(exit.cause)}`)
    expect(exit.value).toEqual({ senders: Option.some(["+14155550101", "+14155550102", "+18005550100"]), rate: 0.5 })
  })

  it.each([
    ["TWILIO_SMS_SENDERS", "", "empty entry"],
    ["TWILIO_SMS_SENDERS", "+14155550101,", "empty entry"],
    ["TWILIO_SMS_SENDERS", "+14155550101,4155550102", "4155550102"],
    ["TWILIO_SMS_SENDERS", "+14155550101,+14155550101", "listed twice"],
    ["SMS_SENDER_RATE", "0", "SMS_SENDER_RATE must be"],
    ["SMS_SENDER_RATE", "-1", "SMS_SENDER_RATE must be"],
    ["SMS_SENDER_RATE", "1001", "SMS_SENDER_RATE must be"],
    ["SMS_SENDER_RATE", "fast", "SMS_SENDER_RATE"]
  ])("refuses %s=%j, naming the variable and why", async (name, value, why) => {
    const exit = await load({ [name]: value })
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      expect(String(exit.cause)).toContain(name)
      expect(String(exit.cause)).toContain(why)
    }
  })
})
