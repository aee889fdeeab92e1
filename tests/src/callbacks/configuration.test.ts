/**
 * A deployment Twilio refuses (wrong credentials, an inactive account, a
 * `From` or webhook URL it rejects) fails fast and loudly, over the real SDK
 * against the simulator: the first refusal stops the channel for every
 * business, `/healthz` fails naming the reason, the metric says it, and no
 * request is retried hot; one probe per TWILIO_CONFIGURATION_PROBE finds the
 * fix, after which the waiting work goes on by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

interface Health {
  readonly status: string
  readonly checks: { readonly twilio: { readonly status: string; readonly detail?: string } }
}

/** Longer than the dialer's own 5 s wait after a refused create: the dial waits for the probe instead. */
const PROBE_SECONDS = 7

describe("a configuration Twilio refuses", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url, env: { TWILIO_CONFIGURATION_PROBE: `${PROBE_SECONDS} seconds` } })
  })
  afterAll(async () => {
    await app.sim("/sim/faults", { method: "DELETE" })
    await app.dispose()
  })

  const health = async () => {
    const response = await app.request("/healthz")
    return { status: response.status, body: (await response.json()) as Health }
  }
  const configurationError = async (reason: string) =>
    Number(new RegExp(`^switchboard_configuration_error\\{reason="${reason}"\\} (\\d+)$`, "m").exec(await (await app.request("/metrics")).text())?.[1])
  const sent = async () => ((await (await app.sim("/sim/stats")).json()) as { requests: { calls: number; messages: number } }).requests
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it("a dial refused for the credentials stops dialing at once, fails /healthz naming the reason, retries nothing hot, and resumes once a probe passes", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    expect((await health()).status).toBe(200)
    expect(await configurationError("twilio_auth")).toBe(0)
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ calls: { status: 401, code: 20003 } }) })
    const before = await sent()
    const request = await app.verified(business.id)

    // within one dial
    const failing = await eventually(async () => {
      const now = await health()
      return now.status === 503 ? now.body : undefined
    }, 10_000, "/healthz to fail")
    expect(failing.checks.twilio.status).toBe("failing")
    expect(failing.checks.twilio.detail).toContain("misconfigured: twilio_auth")
    expect(failing.checks.twilio.detail).toContain("TWILIO_AUTH_TOKEN")
    expect(await configurationError("twilio_auth")).toBe(1)
    // nothing hot: one create reached Twilio, and the dial waits for the probe without spending an attempt
    await pause(1_500)
    expect((await sent()).calls - before.calls).toBe(1)
    const [dial] = await query<{ state: string; attempt: number; wait: number }>(
      url,
      "SELECT state, attempt, extract(epoch FROM run_at - now())::float8 AS wait FROM jobs WHERE kind = 'callback.dial' AND args ->> 'callbackId' = $1",
      [request.id]
    )
    expect(dial?.state).toBe("scheduled")
    expect(dial?.wait).toBeGreaterThan(PROBE_SECONDS - 3) // the probe, not the dialer's own 5 s
    expect(dial?.wait).toBeLessThanOrEqual(PROBE_SECONDS)
    // the other channel stops too (credentials are the account's): a new request's code is not sent either
    const other = await app.create(business.id, freshNumber())
    await pause(1_000)
    expect((await sent()).messages - before.messages).toBe(1) // the first request's code only
    expect(await app.messagesTo(other.phone)).toEqual([])

    // fixed: the next probe passes, the stop is lifted, and the waiting work goes on
    await app.sim("/sim/faults", { method: "DELETE" })
    await app.waitForStatus(request.id, "completed", 20_000)
    await eventually(async () => ((await health()).status === 200 ? true : undefined), 10_000, "/healthz to pass")
    expect(await configurationError("twilio_auth")).toBe(0)
    await app.codeFor(other.phone)
  })

  it("a text refused for its From number stops texting only, with its own reason", async () => {
    await app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ messages: { status: 400, code: 21606, count: 1 } }) })
    const business = await app.createBusiness()
    const created = await app.create(business.id)
    const failing = await eventually(async () => {
      const now = await health()
      return now.status === 503 ? now.body : undefined
    }, 10_000, "/healthz to fail")
    expect(failing.checks.twilio.detail).toContain("misconfigured: twilio_from_number")
    expect(failing.checks.twilio.detail).toContain("sms stopped")
    expect(await configurationError("twilio_from_number")).toBe(1)
    // the fault was for one request: the probe's send goes through, and the code arrives
    await app.codeFor(created.phone)
    await eventually(async () => ((await health()).status === 200 ? true : undefined), 10_000, "/healthz to pass")
    expect(await configurationError("twilio_from_number")).toBe(0)
  })
})

describe("wrong Twilio credentials", () => {
  let good: CallbackApp
  let wrong: CallbackApp
  beforeAll(async () => {
    good = await startCallbackApp({ databaseUrl: await cloneDatabase() })
    // the same simulator, with a token it does not know
    wrong = await startCallbackApp({ databaseUrl: await cloneDatabase(), env: { TWILIO_SIMULATOR_URL: good.simulatorUrl, TWILIO_AUTH_TOKEN: "not-the-token" } })
  })
  afterAll(async () => {
    await wrong?.dispose()
    await good?.dispose()
  })

  it("fail /healthz with twilio_auth after the first request", async () => {
    const business = await wrong.createBusiness()
    await wrong.create(business.id)
    const failing = await eventually(async () => {
      const response = await wrong.request("/healthz")
      return response.status === 503 ? ((await response.json()) as Health) : undefined
    }, 10_000, "/healthz to fail")
    expect(failing.checks.twilio.detail).toContain("misconfigured: twilio_auth")
    expect(failing.checks.twilio.detail).toContain("20003")
  })
})
