/**
 * The callback platform in the test process: the whole app (role `all`, the
 * application's own job kinds) over real HTTP, with its in-process Twilio
 * simulator on a free port, short policy timings, and helpers that drive a
 * callback the way a visitor, an administrator and Twilio would. The helpers
 * call the API through the typed client (clients/switchboard), whose
 * responses are checked against the OpenAPI document (conformance.ts).
 */
import type * as ConfigError from "effect/ConfigError"
import type * as Layer from "effect/Layer"
import type { Middleware } from "openapi-fetch"
import type { Schemas } from "../../clients/switchboard/index.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import type { HandlerServices } from "../../src/jobs/HandlerServices.ts"
import { crons, handlers } from "../../src/jobs/index.ts"
import type { JobHandler } from "../../supervisors/JobRegistry.ts"
import { type RunningApp, startApp } from "./app.ts"
import { eventually } from "./database.ts"

/** Timings short enough for tests; each test may override any of them. */
export const fastPolicies: Record<string, string> = {
  QUEUES: "default:4,calls:20,sms:4,webhooks:4",
  CALLBACK_RETRY_DELAYS: "300ms,300ms,300ms",
  CALL_STATUS_TIMEOUT: "5s",
  DIAL_LIMIT_PER_DESTINATION: "100/15m",
  RATE_LIMIT_CREATE_PER_PHONE: "100/1h",
  RATE_LIMIT_CREATE_PER_IP: "1000/10m",
  RATE_LIMIT_VERIFY_PER_IP: "1000/10m",
  JOB_SLOT_RECHECK: "2s",
  // texts from the one simulated sender at the most it may send (the default is a long code's 1 per second)
  SMS_SENDER_RATE: "1000"
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
  /** What the business heard: each `<Say>`'s text, read back from the TwiML. */
  readonly said?: ReadonlyArray<string>
  readonly twimlError?: string
  /** The keys each `<Gather>` posted, and the numbers each `<Dial>` called. */
  readonly gathered?: ReadonlyArray<string>
  readonly dialed?: ReadonlyArray<string>
}

/** A callback request as its visitor sees it (`GET /v1/callbacks/{id}`). */
export type CallbackView = Schemas["Callback"]

let numbers = 0
/** A fresh US number per call, so tests never share a visitor or a business line. */
export const freshNumber = (): string => `+1415555${String(1000 + ((process.pid * 7 + numbers++) % 9000)).padStart(4, "0")}`

export const startCallbackApp = async (options: {
  readonly databaseUrl: string
  readonly env?: Record<string, string>
  readonly tracing?: Layer.Layer<never, ConfigError.ConfigError>
  /** The job kinds, when a test changes one (a shorter retry policy); the application's own by default. */
  readonly handlers?: ReadonlyArray<JobHandler<HandlerServices>>
}) => {
  const app = await startApp({
    databaseUrl: options.databaseUrl,
    env: { ...fastPolicies, ...options.env },
    handlers: options.handlers ?? handlers,
    crons,
    ...(options.tracing === undefined ? {} : { tracing: options.tracing })
  })
  const gateway = await app.runtime.runPromise(TwilioGateway)
  const simulatorUrl = gateway.simulatorUrl ?? ""
  const sim = (path: string, init: RequestInit = {}) => fetch(simulatorUrl + path, { ...init, headers: { "content-type": "application/json", ...init.headers } })
  const json = async <A>(response: Response): Promise<A> => (await response.json()) as A

  const { client, adminClient } = app

  /** Runs a typed call and hands back its Response untouched (status, headers, body unread), for tests that assert on them. */
  const untouched = async (call: (middleware: Array<Middleware>) => Promise<unknown>): Promise<Response> => {
    let kept: Response | undefined
    const keep: Middleware = {
      onResponse: ({ response }) => {
        kept = response.clone() // the client reads the original
        return undefined
      }
    }
    await call([keep])
    if (kept === undefined) throw new Error("the call answered no response")
    return kept
  }

  /** A business (an always-open one unless `fields` says otherwise); `fields` may hold anything a test wants to send. */
  const createBusiness = async (fields: Record<string, unknown> = {}) => {
    const defaults: Schemas["BusinessBody"] = { name: "Acme", phone: freshNumber(), timezone: "UTC", escalation: [], maxConcurrentCalls: 2, vipPhones: [], smsFallback: true }
    const { data, error, response } = await adminClient.POST("/admin/api/businesses", { body: { ...defaults, ...fields } as Schemas["BusinessBody"] })
    if (data === undefined || response.status !== 201) throw new Error(`business not created: ${response.status} ${JSON.stringify(error)}`)
    return data
  }

  /** A request for `businessId`, created with the admin token (tests of keys call the API with keys themselves). */
  const create = async (businessId: string, phone = freshNumber(), headers: Record<string, string> = {}) => {
    const { data, error, response } = await adminClient.POST("/v1/callbacks", { headers, body: { businessId, phone, name: "Ada" } })
    if (data === undefined || response.status !== 202) throw new Error(`callback not created: ${response.status} ${JSON.stringify(error)}`)
    return { ...data, phone }
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

  /** The verification's Response, whatever its status. */
  const verify = (id: string, code: string) =>
    untouched((middleware) => client.POST("/v1/callbacks/{id}/verification", { params: { path: { id } }, body: { code }, middleware }))

  /** Creates and verifies a request; returns it once queued. */
  const verified = async (businessId: string, phone = freshNumber()) => {
    const created = await create(businessId, phone)
    const response = await verify(created.id, await codeFor(phone))
    if (response.status !== 200) throw new Error(`not verified: ${response.status} ${await response.text()}`)
    return created
  }

  /** The request as its visitor sees it, or undefined when the API does not answer 200. */
  const lookUp = async (id: string): Promise<CallbackView | undefined> => (await client.GET("/v1/callbacks/{id}", { params: { path: { id } } })).data

  const view = async (id: string): Promise<CallbackView> => {
    const { data, error, response } = await client.GET("/v1/callbacks/{id}", { params: { path: { id } } })
    if (data === undefined) throw new Error(`callback ${id} not shown: ${response.status} ${JSON.stringify(error)}`)
    return data
  }

  const waitForStatus = (id: string, status: CallbackView["status"], timeoutMs = 20_000) =>
    eventually(async () => {
      const current = await lookUp(id)
      return current?.status === status ? current : undefined
    }, timeoutMs, `callback ${id} to be ${status}`)

  /** Scripts the simulator for `phone` (`extra`: afterMs, talkMs, queueMs, errorCode, answeredBy; docs/callbacks.md "The simulator"). */
  const script = (phone: string, outcome: string, extra: Record<string, number | string> = {}) =>
    sim(`/sim/numbers/${encodeURIComponent(phone)}`, { method: "PUT", body: JSON.stringify({ outcome, ...extra }) })

  return { ...app, simulatorUrl, sim, createBusiness, create, messagesTo, callsTo, codeFor, verify, verified, view, waitForStatus, script }
}

export type CallbackApp = Awaited<ReturnType<typeof startCallbackApp>>
export type { RunningApp }
