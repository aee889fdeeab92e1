/**
 * Callbacks across real processes (src/main.ts, as `npm start` runs it):
 * a web process takes the visitor's requests, worker processes place the
 * calls, and all of them share one Twilio simulator (TWILIO_SIMULATOR_URL).
 * Then the worker is killed in the middle of a call: its status callbacks
 * are lost with it, and a new worker must finish the request, the call's
 * watcher asking Twilio what became of the call, without calling twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, startSimulator, type RunningSimulator } from "../../../infra/twilio/Simulator.ts"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { spawnApp, type WorkerProcess } from "../../support/processes.ts"
import { freshNumber } from "../../support/callbacks.ts"

describe("web and worker processes sharing one simulator", () => {
  let simulator: RunningSimulator
  let url: string
  let web: WorkerProcess
  const workers: Array<WorkerProcess> = []
  let env: Record<string, string>
  let webUrl: string

  beforeAll(async () => {
    url = await cloneDatabase()
    simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
    env = {
      TWILIO_SIMULATOR_URL: simulator.url,
      ADMIN_TOKEN,
      QUEUES: "default:2,calls:10,sms:2",
      CALLBACK_RETRY_DELAYS: "300ms",
      CALL_STATUS_TIMEOUT: "2s",
      LOG_LEVEL: "info"
    }
  }, 60_000)

  afterAll(() => simulator.close())

  /** A web and a worker process (tests/support/processes.ts kills them after each test). */
  const start = async () => {
    web = spawnApp(url, { ...env, ROLE: "web" })
    workers.length = 0
    workers.push(spawnApp(url, { ...env, ROLE: "worker" }))
    webUrl = await web.ready()
    await workers[0]?.ready()
  }

  const request = (path: string, init: RequestInit & { admin?: boolean } = {}) =>
    fetch(webUrl + path, { ...init, headers: { "content-type": "application/json", ...(init.admin === true ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) } })
  const sim = (path: string, init: RequestInit = {}) => fetch(simulator.url + path, { ...init, headers: { "content-type": "application/json" } })
  const statusOf = async (id: string) => ((await (await request(`/v1/callbacks/${id}`)).json()) as { status: string; attempts: ReadonlyArray<unknown> })

  /** A business and a verified request for it, through the web process. */
  const verifiedRequest = async (script: Record<string, unknown>) => {
    const phone = freshNumber()
    await sim(`/sim/numbers/${encodeURIComponent(phone)}`, { method: "PUT", body: JSON.stringify(script) })
    const business = (await (await request("/admin/api/businesses", { method: "POST", admin: true, body: JSON.stringify({ name: "Two tier", phone, timezone: "UTC" }) })).json()) as { id: string }
    const visitor = freshNumber()
    const created = (await (await request("/v1/callbacks", { method: "POST", admin: true, body: JSON.stringify({ businessId: business.id, phone: visitor }) })).json()) as { id: string }
    const code = await eventually(async () => {
      const texts = (await (await sim(`/sim/messages?to=${encodeURIComponent(visitor)}`)).json()) as ReadonlyArray<{ body: string }>
      return /\d{6}/.exec(texts[0]?.body ?? "")?.[0]
    }, 20_000, "the verification text")
    expect((await request(`/v1/callbacks/${created.id}/verification`, { method: "POST", body: JSON.stringify({ code }) })).status).toBe(200)
    return { id: created.id, phone }
  }

  it("the web process takes the request, a worker places the call and takes its status callbacks: completed", { timeout: 60_000 }, async () => {
    await start()
    const { id, phone } = await verifiedRequest({ outcome: "answered", afterMs: 50, talkMs: 100 })
    await eventually(async () => ((await statusOf(id)).status === "completed" ? true : undefined), 20_000, "the callback to complete")
    const calls = (await (await sim(`/sim/calls?to=${encodeURIComponent(phone)}`)).json()) as ReadonlyArray<{ statusCallback: string }>
    expect(calls).toHaveLength(1)
    // the status callbacks went to the worker that placed the call, not to the web process
    expect(calls[0]?.statusCallback.startsWith(await workers[0]!.baseUrl())).toBe(true)
  })

  it("a worker killed mid-call: a new worker's call watcher asks Twilio how the call ended, and completes it without a second call", { timeout: 90_000 }, async () => {
    await start()
    const { id, phone } = await verifiedRequest({ outcome: "answered", afterMs: 50, talkMs: 3_000 })
    await eventually(async () => ((await statusOf(id)).status === "connected" ? true : undefined), 20_000, "the call to connect")
    workers[0]?.signal("SIGKILL")
    await workers[0]?.exited
    // the call ends while nobody listens at the dead worker's address: its final status callback is lost
    const replacement = spawnApp(url, { ...env, ROLE: "worker" })
    workers.push(replacement)
    await eventually(async () => ((await statusOf(id)).status === "completed" ? true : undefined), 40_000, "the callback to complete after the crash")
    expect(((await (await sim(`/sim/calls?to=${encodeURIComponent(phone)}`)).json()) as ReadonlyArray<unknown>)).toHaveLength(1)
    const [attempt] = await query<{ status: string; answered: boolean }>(url, "SELECT status, answered FROM call_attempts WHERE callback_id = $1", [id])
    expect(attempt).toEqual({ status: "completed", answered: true })
    expect(replacement.output()).toContain("worker pools: default, calls, sms")
  })
})
