/** The callback policies read from the environment: defaults, and values that would break at runtime refused at start-up. */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describe, expect, it } from "vitest"
import { CallbackConfig, CallbackConfigLive } from "../../../infra/callbacks/CallbackConfig.ts"

const load = (env: Record<string, string>) =>
  Effect.runPromiseExit(
    Effect.provide(CallbackConfig, CallbackConfigLive).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

describe("callback configuration", () => {
  it("defaults to API.md's limits and DESIGN.md's policies", async () => {
    const exit = await load({})
    if (!Exit.isSuccess(exit)) throw new Error("the defaults must load")
    const settings = exit.value
    expect(settings.createPerPhone).toEqual({ limit: 3, window: Duration.hours(1) })
    expect(settings.createPerIp).toEqual({ limit: 20, window: Duration.minutes(10) })
    expect(settings.dialPerDestination).toEqual({ limit: 3, window: Duration.minutes(15) })
    expect(settings.retry.attemptsPerNumber).toBe(3)
    expect(settings.retry.delays.map(Duration.toMinutes)).toEqual([1, 5, 15])
    expect(settings.verification).toMatchObject({ maxChecks: 5, maxSends: 3 })
    expect(Duration.toMinutes(settings.verification.codeLifetime)).toBe(10)
  })

  it.each([
    ["CALL_STATUS_TIMEOUT", "0s"],
    ["CALLBACK_RETENTION", "200000000d"],
    ["RATE_LIMIT_CREATE_PER_IP", "20/0s"],
    ["DIAL_LIMIT_PER_DESTINATION", "3/1000d"],
    ["CALLBACK_RETRY_DELAYS", "1m,30d"],
    ["VERIFICATION_MAX_CHECKS", "0"],
    ["CIRCUIT_OPEN_FOR", "soon"]
  ])("refuses %s=%s, naming the variable", async (name, value) => {
    const exit = await load({ [name]: value })
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain(name)
  })
})
