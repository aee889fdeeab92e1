/**
 * The callback platform in the test process: the whole app (role `all`, the
 * application's own job kinds) over real HTTP, with its in-process Twilio
 * simulator on a free port, short policy timings, and helpers that drive a
 * callback the way a visitor, an administrator and Twilio would.
 */
import type * as Layer from "effect/Layer"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { crons, handlers } from "../../src/jobs/index.ts"
import { type RunningApp, startApp } from "./app.ts"
import { eventually } from "./database.ts"

/** Timings short enough for tests; each test may override any of them. */
export const fastPolicies: Record<string, string> = {
  QUEUES: "default:4,calls:20,sms:4",
  CALLBACK_RETRY_DELAYS: "300ms,300ms,300ms",
  CALL_POLL_INTERVAL: "50ms",
  CALL_STATUS_TIMEOUT: "5s",
  DIAL_LIMIT_PER_DESTINATION: "100/15m",
  RATE_LIMIT_CREATE_PER_PHONE: "100/1h",
  RATE_LIMIT_CREATE_PER_IP: "1000/10m",
  RATE_LIMIT_VERIFY_PER_IP: "1000/10m",
  JOB_SLOT_RECHECK: "2s"
}

export interface SimMessage {
  readonly sid: string
  readonly to: string
  readonly body: string
  readonly status: string
  readonly createdAt: string
}

export interface SimCall {
  readonly sid: string
  readonly to: string
  readonly status: string
  readonly statusCallback: string
  readonly createdAt: string
  readonly endedAt?: string
  readonly twiml?: string
}

export interface CallbackView {
  readonly id: string
  readonly businessId: string
  readonly status: string
  readonly priority: string
  readonly escalationLevel: number
  readonly scheduledFor?: string
  readonly nextAttemptAt?: string
  readonly attempts: ReadonlyArray<{ readonly n: number; readonly to: string; readonly status: string; readonly level: number; readonly startedAt: string; readonly endedAt?: string; readonly error?: string }>
}

let numbers = 0
/** A fresh US number per call, so tests never share a visitor or a business line. */
export const freshNumber = (): string => `+1415555${String(1000 + ((process.pid * 7 + numbers++) % 9000)).padStart(4, "0")}`

export const startCallbackApp = async (options: { readonly databaseUrl: string; readonly env?: Record<string, string>; readonly tracing?: Layer.Layer<never> }) => {
  const app = await startApp({ databaseUrl: options.databaseUrl, env: { ...fastPolicies, ...options.env }, handlers, crons, ...(options.tracing === undefined ? {} : { tracing: options.tracing }) })
  const gateway = await app.runtime.runPromise(TwilioGateway)
  const simulatorUrl = gateway.simulatorUrl ?? ""
  const sim = (path: string, init: RequestInit = {}) => fetch(simulatorUrl + path, { ...init, headers: { "content-type": "application/json", ...init.headers } })
  const json = async <A>(response: Response): Promise<A> => (await response.json()) as A

  const createBusiness = async (fields: Record<string, unknown> = {}) => {
    const response = await app.request("/admin/api/businesses", {
      method: "POST",
      admin: true,
      body: JSON.stringify({ name: "Acme", phone: freshNumber(), timezone: "UTC", escalation: [], maxConcurrentCalls: 2, vipPhones: [], smsFallback: true, ...fields })
    })
    if (response.status !== 201) throw new Error(`business not created: ${response.status} ${await response.text()}`)
    return json<{ id: string; phone: string; escalation: ReadonlyArray<{ phone: string }> }>(response)
  }

  const create = async (businessId: string, phone = freshNumber(), headers: Record<string, string> = {}) => {
    const response = await app.request("/v1/callbacks", { method: "POST", headers, body: JSON.stringify({ businessId, phone, name: "Ada" }) })
    if (response.status !== 202) throw new Error(`callback not created: ${response.status} ${await response.text()}`)
    return { ...(await json<{ id: string; status: string; verification: { expiresAt: string } }>(response)), phone }
  }

  const messagesTo = (phone: string) => sim(`/sim/messages?to=${encodeURIComponent(phone)}`).then((r) => json<ReadonlyArray<SimMessage>>(r))
  const callsTo = (phone: string) => sim(`/sim/calls?to=${encodeURIComponent(phone)}`).then((r) => json<ReadonlyArray<SimCall>>(r))

  /** The newest code texted to `phone` (waits for it), or the n-th newest text's code. */
  const codeFor = async (phone: string, count = 1): Promise<string> => {
    const messages = await eventually(async () => {
      const all = (await messagesTo(phone)).filter((m) => /code is \d{6}/.test(m.body))
      return all.length >= count ? all : undefined
    }, 10_000, `a verification text to ${phone}`)
    return /code is (\d{6})/.exec(messages[0]?.body ?? "")?.[1] ?? ""
  }

  const verify = (id: string, code: string) => app.request(`/v1/callbacks/${id}/verification`, { method: "POST", body: JSON.stringify({ code }) })

  /** Creates and verifies a request; returns it once queued. */
  const verified = async (businessId: string, phone = freshNumber()) => {
    const created = await create(businessId, phone)
    const response = await verify(created.id, await codeFor(phone))
    if (response.status !== 200) throw new Error(`not verified: ${response.status} ${await response.text()}`)
    return created
  }

  const view = (id: string) => app.request(`/v1/callbacks/${id}`).then((r) => json<CallbackView>(r))

  const waitForStatus = (id: string, status: string, timeoutMs = 20_000) =>
    eventually(async () => {
      const current = await view(id)
      return current.status === status ? current : undefined
    }, timeoutMs, `callback ${id} to be ${status}`)

  const script = (phone: string, outcome: string, extra: Record<string, number> = {}) =>
    sim(`/sim/numbers/${encodeURIComponent(phone)}`, { method: "PUT", body: JSON.stringify({ outcome, ...extra }) })

  return { ...app, simulatorUrl, sim, createBusiness, create, messagesTo, callsTo, codeFor, verify, verified, view, waitForStatus, script }
}

export type CallbackApp = Awaited<ReturnType<typeof startCallbackApp>>
export type { RunningApp }
