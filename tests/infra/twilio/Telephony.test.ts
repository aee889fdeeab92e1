/**
 * Telephony over the real SDK against the simulator: requests succeed, a
 * permanent error leaves the circuit closed, and while Twilio answers 503 the
 * circuit opens after N failures, so traffic stays bounded until a probe finds
 * Twilio well again. An ambiguous create is reconciled with `findCalls` (by To
 * and From, every call, paged to a limit) and
 * `fetchCall`, which go through the same circuit.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { Metrics } from "../../../infra/observability/Metrics.ts"
import { type RunningSimulator, startSimulator } from "../../../infra/twilio/Simulator.ts"
import { simulatedTwilio } from "../../../infra/twilio/SimulatorClient.ts"
import { make, type TelephonyService } from "../../../infra/twilio/Telephony.ts"

const ACCOUNT = "AC" + "2".repeat(32)
const TOKEN = "telephony-test-auth-token"
const TO = "+4930123456"

describe("Telephony", () => {
  let sim: RunningSimulator
  let telephony: TelephonyService
  let metrics: Metrics
  beforeAll(async () => {
    sim = await startSimulator({ accountSid: ACCOUNT, authToken: TOKEN, port: 0 })
  })
  afterAll(() => sim.close())
  beforeEach(async () => {
    await fetch(`${sim.url}/sim/reset`, { method: "POST" })
    metrics = Effect.runSync(Effect.provide(Metrics, Metrics.Default))
    telephony = make({ client: simulatedTwilio(sim.url, ACCOUNT, TOKEN), from: "+15005550006", metrics, breaker: { failureThreshold: 3, openForMillis: 300 } })
  })

  const call = () =>
    Effect.runPromiseExit(telephony.placeCall({ to: TO, voiceUrl: "http://127.0.0.1:9/voice", statusCallback: "http://127.0.0.1:9/status", ringSeconds: 20 }))
  const stats = async () =>
    (await (await fetch(`${sim.url}/sim/stats`)).json()) as { calls: number; messages: number; requests: { calls: number; messages: number; callReads: number } }
  const faults = (body: unknown) => fetch(`${sim.url}/sim/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const failureOf = (exit: Exit.Exit<unknown, unknown>) => (exit._tag === "Failure" && exit.cause._tag === "Fail" ? (exit.cause.error as { _tag: string; kind?: string; ambiguous?: boolean }) : undefined)
  const counted = async (op: string, outcome: string) =>
    (await metrics.registry.getSingleMetric("switchboard_twilio_requests_total")?.get())?.values.find((v) => v.labels.op === op && v.labels.outcome === outcome)?.value ?? 0

  it("places calls and sends SMS through the SDK", async () => {
    const placed = await call()
    expect(Exit.isSuccess(placed) && placed.value.sid).toMatch(/^CA/)
    const sent = await Effect.runPromise(telephony.sendSms({ to: "+4917612345678", body: "your code is 123456" }))
    expect(sent.sid).toMatch(/^SM/)
    expect(await stats()).toMatchObject({ calls: 1, messages: 1 })
    expect(await counted("calls.create", "ok")).toBe(1)
  })

  it("a permanent error fails the request and leaves the circuit closed", async () => {
    for (let i = 0; i < 5; i++) {
      const exit = await Effect.runPromiseExit(telephony.sendSms({ to: "12", body: "x" }))
      expect(failureOf(exit)).toMatchObject({ _tag: "TelephonyError", kind: "permanent", ambiguous: false })
    }
    expect(await Effect.runPromise(telephony.circuit("sms"))).toBe("closed")
  })

  it("opens the voice circuit after 3 failures, refuses without calling Twilio, probes after the window and closes when well", async () => {
    await faults({ calls: { status: 503 } })
    for (let i = 0; i < 3; i++) expect(failureOf(await call())).toMatchObject({ _tag: "TelephonyError", kind: "retryable", ambiguous: false })
    expect(await Effect.runPromise(telephony.circuit("voice"))).toBe("open")
    for (let i = 0; i < 20; i++) expect(failureOf(await call())?._tag).toBe("CircuitOpen")
    expect((await stats()).requests.calls).toBe(3) // the refused ones never reached "Twilio"
    expect(await Effect.runPromise(telephony.circuit("sms"))).toBe("closed") // channels are separate

    await new Promise((resolve) => setTimeout(resolve, 350))
    expect(failureOf(await call())?._tag).toBe("TelephonyError") // the probe, still failing: open again
    expect((await stats()).requests.calls).toBe(4)
    await fetch(`${sim.url}/sim/faults`, { method: "DELETE" })
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect(Exit.isSuccess(await call())).toBe(true)
    expect(await Effect.runPromise(telephony.circuit("voice"))).toBe("closed")
    expect(await counted("calls.create", "circuit_open")).toBe(20)
    const gauge = await metrics.registry.getSingleMetric("switchboard_circuit_state")?.get()
    expect(gauge?.values.find((v) => v.labels.channel === "voice")?.value).toBe(0)
  })

  it("fetches a placed call, and a call Twilio does not know is undefined, not a failure", async () => {
    const placed = await call()
    const sid = Exit.isSuccess(placed) ? placed.value.sid : ""
    const info = await Effect.runPromise(telephony.fetchCall(sid))
    expect(info).toMatchObject({ sid, to: TO, durationSeconds: undefined })
    expect(info?.createdAt).toBeInstanceOf(Date)
    expect(["queued", "initiated", "ringing"]).toContain(info?.status)
    expect(await Effect.runPromise(telephony.fetchCall("CA" + "0".repeat(32)))).toBeUndefined()
    expect(await counted("calls.fetch", "ok")).toBe(2)
    expect(await Effect.runPromise(telephony.circuit("voice"))).toBe("closed")
  })

  it("reconciles the ambiguous create: findCalls lists the call that was made although the create failed, with its creation time", async () => {
    const before = Math.floor(Date.now() / 1000) * 1000 // date_created has whole seconds
    await faults({ createThenFail: true })
    expect(failureOf(await call())).toMatchObject({ _tag: "TelephonyError", kind: "retryable", ambiguous: true, status: 500 })
    const found = await Effect.runPromise(telephony.findCalls({ to: TO }))
    const listed = (await (await fetch(`${sim.url}/sim/calls`)).json()) as Array<{ sid: string }>
    expect(found.complete).toBe(true)
    expect(found.calls.map((c) => c.sid)).toEqual(listed.map((c) => c.sid))
    expect(found.calls).toHaveLength(1)
    expect(found.calls[0]?.createdAt?.getTime()).toBeGreaterThanOrEqual(before)
    expect(found.calls[0]?.createdAt?.getTime()).toBeLessThanOrEqual(Date.now())
    expect(await counted("calls.list", "ok")).toBe(1)
  })

  it("findCalls asks by To and From only (no start-time filter, which would leave out a call not yet started), and reads up to its limit", async () => {
    const client = simulatedTwilio(sim.url, ACCOUNT, TOKEN)
    for (let i = 0; i < 5; i++) await client.calls.create({ to: TO, from: "+15005550006", url: "http://127.0.0.1:9/voice" })
    const all = await Effect.runPromise(telephony.findCalls({ to: TO }))
    expect(all).toMatchObject({ complete: true })
    expect(all.calls).toHaveLength(5)
    // five calls, read three (and one more, to know there are more): a cut list says so
    const cut = await Effect.runPromise(telephony.findCalls({ to: TO, limit: 3 }))
    expect(cut.complete).toBe(false)
    expect(cut.calls).toHaveLength(3)
    expect(await Effect.runPromise(telephony.findCalls({ to: TO, limit: 5 }))).toMatchObject({ complete: true })
  })

  it("findCalls finds nothing when the create was refused (503), and only calls from our number", async () => {
    await faults({ calls: { status: 503, count: 1 } })
    expect(failureOf(await call())).toMatchObject({ _tag: "TelephonyError", kind: "retryable", ambiguous: false, status: 503 })
    await simulatedTwilio(sim.url, ACCOUNT, TOKEN).calls.create({ to: TO, from: "+15005550001", url: "http://127.0.0.1:9/voice" })
    expect(await Effect.runPromise(telephony.findCalls({ to: TO }))).toEqual({ calls: [], complete: true })
    expect((await stats()).requests).toMatchObject({ calls: 2, callReads: 1 })
  })

  it("reads go through the voice circuit: failing reads open it, and then creates are refused too", async () => {
    await faults({ calls: { status: 503, reads: true } })
    for (let i = 0; i < 3; i++) {
      expect(failureOf(await Effect.runPromiseExit(telephony.findCalls({ to: TO })))).toMatchObject({ _tag: "TelephonyError", kind: "retryable", status: 503 })
    }
    expect(await Effect.runPromise(telephony.circuit("voice"))).toBe("open")
    expect(failureOf(await Effect.runPromiseExit(telephony.fetchCall("CA" + "0".repeat(32))))?._tag).toBe("CircuitOpen")
    expect(failureOf(await call())?._tag).toBe("CircuitOpen")
    expect((await stats()).requests).toMatchObject({ calls: 0, callReads: 3 })
    expect(await counted("calls.list", "retryable")).toBe(3)
    expect(await counted("calls.fetch", "circuit_open")).toBe(1)
  })
})
