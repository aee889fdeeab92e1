/** Classifying the errors the real twilio SDK raises, produced by the simulator and by a closed port. */
import * as net from "node:net"
import * as Duration from "effect/Duration"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningSimulator, startSimulator } from "../../../infra/twilio/Simulator.ts"
import { RETRY_AFTER_MAX_SECONDS, retryAfterSeconds } from "../../../infra/twilio/RequestClient.ts"
import { simulatedTwilio } from "../../../infra/twilio/SimulatorClient.ts"
import { classify, classifyReported, configurationReason, isTwilioUnwell, reportedErrorText } from "../../../infra/twilio/TwilioErrors.ts"

const ACCOUNT = "AC" + "1".repeat(32)
const TOKEN = "errors-test-auth-token"
const FROM = "+15005550006"

describe("classify", () => {
  let sim: RunningSimulator
  beforeAll(async () => {
    sim = await startSimulator({ accountSid: ACCOUNT, authToken: TOKEN, port: 0 })
  })
  afterAll(() => sim.close())

  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error("expected the request to fail")
      },
      (error: unknown) => classify(error)
    )
  const fault = (body: unknown) => fetch(`${sim.url}/sim/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const call = (client = simulatedTwilio(sim.url, ACCOUNT, TOKEN)) => client.calls.create({ to: "+4930123456", from: FROM, url: "http://127.0.0.1:9/voice" })

  it("an invalid number is permanent and not ambiguous", async () => {
    const failure = await failureOf(simulatedTwilio(sim.url, ACCOUNT, TOKEN).calls.create({ to: "555", from: FROM, url: "http://127.0.0.1:9/voice" }))
    expect(failure).toMatchObject({ kind: "permanent", ambiguous: false, code: "21211", status: 400 })
    expect(isTwilioUnwell(failure)).toBe(false)
  })

  it("429 and 503 are retryable and certain (turned away); other 5xx are retryable and ambiguous (the call may exist)", async () => {
    await fault({ calls: { status: 429, count: 1 } })
    expect(await failureOf(call())).toMatchObject({ kind: "retryable", ambiguous: false, status: 429 })
    await fault({ calls: { status: 503, count: 1 } })
    const unavailable = await failureOf(call())
    expect(unavailable).toMatchObject({ kind: "retryable", ambiguous: false, status: 503 })
    expect(isTwilioUnwell(unavailable)).toBe(true)
    await fault({ calls: { status: 500, count: 1 } })
    expect(await failureOf(call())).toMatchObject({ kind: "retryable", ambiguous: true, status: 500 })
    await fault({ createThenFail: true })
    const failure = await failureOf(call())
    expect(failure).toMatchObject({ kind: "retryable", ambiguous: true, status: 500 })
    expect(isTwilioUnwell(failure)).toBe(true)
    await fetch(`${sim.url}/sim/faults`, { method: "DELETE" })
  })

  it("a 429 or 503 with Retry-After carries the wait Twilio asked for through the SDK; without one, none", async () => {
    await fault({ calls: { status: 429, count: 1, retryAfter: 7 } })
    const limited = await failureOf(call())
    expect(limited).toMatchObject({ kind: "retryable", ambiguous: false, status: 429, code: "20429" })
    expect(limited.retryAfter === undefined ? undefined : Duration.toMillis(limited.retryAfter)).toBe(7_000)
    await fault({ messages: { status: 503, count: 1, retryAfter: 0 } })
    const text = await failureOf(simulatedTwilio(sim.url, ACCOUNT, TOKEN).messages.create({ to: "+4930123456", from: FROM, body: "hi" }))
    expect(text).toMatchObject({ kind: "retryable", ambiguous: false, status: 503 })
    expect(text.retryAfter === undefined ? undefined : Duration.toMillis(text.retryAfter)).toBe(0)
    await fault({ calls: { status: 429, count: 1 } })
    expect((await failureOf(call())).retryAfter).toBeUndefined()
    // the answer after the fault is untouched: the call is placed
    expect((await call()).sid).toMatch(/^CA/)
  })

  it("refuses a Retry-After on a fault that is not a 429 or 503, or out of range", async () => {
    for (const calls of [{ status: 500, retryAfter: 3 }, { status: 429, retryAfter: -1 }, { status: 429, retryAfter: 1.5 }, { status: 503, retryAfter: 3601 }]) {
      expect((await fault({ calls })).status).toBe(400)
    }
  })

  it("a refused connection is retryable and certain: nothing was sent", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo
        server.close(() => resolve(address.port))
      })
    })
    const failure = await failureOf(call(simulatedTwilio(`http://127.0.0.1:${port}`, ACCOUNT, TOKEN)))
    expect(failure).toMatchObject({ kind: "retryable", ambiguous: false, code: "ECONNREFUSED" })
  })

  it("Twilio's permanent codes are permanent whatever the status", () => {
    for (const code of [21211, 21214, 21216, 13224, 21408, 21610, 21614]) {
      expect(classify({ status: 400, code, message: "x" })).toMatchObject({ kind: "permanent", ambiguous: false })
    }
    expect(classify(new Error("socket hang up"))).toMatchObject({ kind: "retryable", ambiguous: true })
  })

  it("wrong credentials (through the SDK) and other refusals of this deployment's setup are retryable and count against the circuit", async () => {
    const failure = await failureOf(call(simulatedTwilio(sim.url, ACCOUNT, "not-the-token")))
    expect(failure).toMatchObject({ kind: "retryable", ambiguous: false, code: "20003", status: 401 })
    expect(isTwilioUnwell(failure)).toBe(true)
    for (const [status, code] of [[400, 21205], [400, 21212], [400, 21606], [403, 20005], [404, 20404], [401, undefined]] as const) {
      const classified = classify({ status, code, message: "x" })
      expect(classified, `${status} ${code}`).toMatchObject({ kind: "retryable", ambiguous: false })
      expect(isTwilioUnwell(classified)).toBe(true)
    }
    // a refusal of this request alone is not: the circuit stays closed for everyone else
    expect(isTwilioUnwell(classify({ status: 400, code: 21211, message: "x" }))).toBe(false)
  })

  it("names what is wrong with the deployment for the refusals that say so, and nothing for the rest", async () => {
    expect(configurationReason(await failureOf(call(simulatedTwilio(sim.url, ACCOUNT, "not-the-token"))))).toBe("twilio_auth")
    const cases = [
      [401, undefined, "twilio_auth"],
      [401, 20003, "twilio_auth"],
      [403, 20005, "twilio_account_suspended"],
      [403, 10001, "twilio_account_suspended"],
      [400, 21212, "twilio_from_number"],
      [400, 21606, "twilio_from_number"],
      [400, 21205, "twilio_callback_url"],
      [400, 21609, "twilio_callback_url"],
      [404, 20404, undefined], // one resource missing: a lookup's answer
      [400, 21211, undefined], // this request's number
      [503, 20503, undefined],
      [429, 20429, undefined]
    ] as const
    for (const [status, code, reason] of cases) expect(configurationReason(classify({ status, code, message: "x" })), `${status} ${code}`).toBe(reason)
  })

  it("of the 5xx statuses only 503 is certain", () => {
    expect(classify({ status: 503, code: 20503, message: "x" })).toMatchObject({ kind: "retryable", ambiguous: false })
    for (const status of [500, 502, 504]) expect(classify({ status, message: "x" })).toMatchObject({ kind: "retryable", ambiguous: true })
  })
})

describe("classifyReported (the ErrorCode of a status callback)", () => {
  it("codes that say the number itself is bad are permanent, with their meaning", () => {
    for (const code of ["13223", "13224", "13225", "21211", "21214", "21217", "21610", "21612", "21614", "30005", "30006"]) {
      const error = classifyReported(code)
      expect(error, code).toMatchObject({ code, kind: "permanent" })
      expect(error.meaning, code).toBeDefined()
    }
    expect(reportedErrorText(classifyReported("13224"))).toBe("Twilio error 13224: invalid phone number")
  })

  it("a handset off, a carrier filter, an unknown error are transient; a code the table does not know is transient and shown bare", () => {
    for (const code of ["30003", "30007", "30008"]) expect(classifyReported(code), code).toMatchObject({ kind: "transient" })
    const unknown = classifyReported("31999")
    expect(unknown).toEqual({ code: "31999", kind: "transient", meaning: undefined })
    expect(reportedErrorText(unknown)).toBe("Twilio error 31999")
  })

  it("agrees with classify: a code classify calls permanent for a refused request is permanent when reported after the fact", () => {
    for (const code of [21211, 21214, 13224, 21408, 21610, 21614]) {
      expect(classify({ status: 400, code, message: "x" }).kind, String(code)).toBe("permanent")
      expect(classifyReported(String(code)).kind, String(code)).toBe("permanent")
    }
  })
})

describe("retryAfterSeconds (a Retry-After header as a wait)", () => {
  const now = Date.parse("2026-12-07T10:00:00Z")
  it("reads delay-seconds and HTTP-dates, never below 0 nor above an hour", () => {
    expect(retryAfterSeconds("7", now)).toBe(7)
    expect(retryAfterSeconds(" 0 ", now)).toBe(0)
    expect(retryAfterSeconds(["12"], now)).toBe(12)
    expect(retryAfterSeconds("Mon, 07 Dec 2026 10:00:30 GMT", now)).toBe(30)
    expect(retryAfterSeconds("Mon, 07 Dec 2026 09:59:00 GMT", now)).toBe(0)
    expect(retryAfterSeconds("86400", now)).toBe(RETRY_AFTER_MAX_SECONDS)
    expect(retryAfterSeconds("Tue, 08 Dec 2026 10:00:00 GMT", now)).toBe(RETRY_AFTER_MAX_SECONDS)
  })
  it("is undefined for anything else", () => {
    for (const value of [undefined, null, "", "soon", "-5", "1.5", "2026-12-08", 7, {}]) expect(retryAfterSeconds(value, now)).toBeUndefined()
  })
})
