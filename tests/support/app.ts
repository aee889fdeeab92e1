/**
 * The whole application in the test process, serving real HTTP on an
 * ephemeral port: the same layers as `npm start` (appFor) with the test job
 * kinds, fast engine timings and a known admin token. Every response that
 * `request` and the typed clients receive is checked against the OpenAPI
 * document (conformance.ts): a response that drifts from it throws.
 */
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { CronDefinition } from "../../domain/jobs/CronDefinition.ts"
import { createSwitchboardClient } from "../../clients/switchboard/index.ts"
import { appFor, type HandlerServices, type Role } from "../../src/App.ts"
import type { JobHandler } from "../../supervisors/JobRegistry.ts"
import { HttpServer } from "../../src/http/Server.ts"
import { assertConforms, checkResponses, conformance } from "./conformance.ts"
import { fastEngine } from "./processes.ts"
import { testHandlers } from "./testJobs.ts"

export const ADMIN_TOKEN = "test-admin-token-0123456789"

export interface AppOptions {
  readonly databaseUrl: string
  readonly role?: Role
  readonly env?: Record<string, string>
  /** Replaces OTLP export (for an in-memory span exporter). */
  readonly tracing?: Layer.Layer<never, ConfigError.ConfigError>
  /** The job kinds the app runs: the test kinds by default. */
  readonly handlers?: ReadonlyArray<JobHandler<HandlerServices>>
  readonly crons?: ReadonlyArray<CronDefinition>
}

export const startApp = async (options: AppOptions) => {
  const env = {
    PORT: "0",
    HOST: "127.0.0.1",
    ADMIN_TOKEN,
    LOG_LEVEL: "warning",
    QUEUES: "default:10",
    ...fastEngine,
    ...options.env,
    DATABASE_URL: options.databaseUrl
  }
  const role = options.role ?? "all"
  const app = appFor(role, { handlers: options.handlers ?? testHandlers, crons: options.crons ?? [] }, options.tracing ?? Layer.empty).pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
  const runtime = ManagedRuntime.make(app)
  const { port } = await runtime.runPromise(HttpServer)
  const baseUrl = `http://127.0.0.1:${port}`
  const checker = conformance(role)
  /** fetch against the app; `admin: true` adds the admin token. */
  const request = async (path: string, init: RequestInit & { admin?: boolean } = {}) => {
    const headers = new Headers(init.headers)
    if (init.admin === true) headers.set("authorization", `Bearer ${ADMIN_TOKEN}`)
    if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json")
    const response = await fetch(baseUrl + path, { ...init, headers })
    await assertConforms(init.method ?? "GET", path, response, checker)
    return response
  }
  /** fetch to the app as the caller builds it (a fuzzer's raw bytes, no defaults added), its response checked like `request`'s. */
  const checkedFetch = async (input: Request | string, init?: RequestInit) => {
    const prepared = input instanceof Request && init === undefined ? input : new Request(input, init)
    const response = await fetch(prepared)
    await assertConforms(prepared.method, prepared.url, response, checker)
    return response
  }
  /** The typed client (clients/switchboard) against the app, without and with the admin token. */
  const client = createSwitchboardClient({ baseUrl })
  const adminClient = createSwitchboardClient({ baseUrl, adminToken: ADMIN_TOKEN })
  client.use(checkResponses(checker))
  adminClient.use(checkResponses(checker))
  return { baseUrl, runtime, request, fetch: checkedFetch, client, adminClient, dispose: () => runtime.dispose() }
}

export type RunningApp = Awaited<ReturnType<typeof startApp>>
