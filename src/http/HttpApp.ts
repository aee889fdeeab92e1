/**
 * The Hono application of one process: middleware (request id, span and
 * metrics, body limit), the operations routes, Twilio's webhooks, and, on
 * roles that serve the API, the public callback routes and the admin routes
 * behind the admin token. Every router carries full paths (the route table,
 * contract/index.ts) and is mounted at `/`. Tests call `app.request()` on
 * it directly; the server (Server.ts) serves its `fetch`.
 */
import { Hono } from "hono"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type { CronDefinition } from "../../domain/jobs/CronDefinition.ts"
import type { JobDefinition } from "../../domain/jobs/JobDefinition.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { ConsoleSettings } from "../console/ConsoleConfig.ts"
import { consoleRoutes } from "../console/ConsoleApp.ts"
import { type HttpEnv, type HttpServices, problemResponse } from "./Handler.ts"
import { Health } from "./Health.ts"
import { cors, ownCallbacks, principal } from "./Access.ts"
import { PUBLIC_API } from "./Contract.ts"
import { bearer, limitBody, observe, requestId, untilMigrated } from "./Middleware.ts"
import { NotFound } from "./Problems.ts"
import { adminCallbackRoutes } from "./routes/AdminCallbacks.ts"
import { departmentRoutes, topicRoutes } from "./routes/Departments.ts"
import { businessApiRoutes } from "./routes/BusinessApi.ts"
import { adminJobRoutes } from "./routes/AdminJobs.ts"
import { adminWebhookRoutes } from "./routes/AdminWebhooks.ts"
import { callbackRoutes } from "./routes/Callbacks.ts"
import { auditRoutes } from "./routes/Audit.ts"
import { bulkRoutes } from "./routes/Bulk.ts"
import { auditChanges } from "./Audited.ts"
import { allRoutes } from "./contract/index.ts"
import { adminBotCheckRoutes } from "./routes/BotChecks.ts"
import { adminKeyRoutes, publicKeyRoutes } from "./routes/Keys.ts"
import { operatorEventRoutes, visitorEventRoutes } from "./routes/Events.ts"
import { operationsRoutes } from "./routes/Operations.ts"
import { twilioRoutes } from "./routes/TwilioWebhooks.ts"
import { widgetRoutes } from "./routes/Widget.ts"
import { OperationPaths } from "./ServerConfig.ts"
import { adminToken, metricsToken, Production } from "./Tokens.ts"

export interface HttpAppOptions {
  /** `worker` serves only the operations routes (probes, metrics). */
  readonly role: "all" | "web" | "worker"
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions of different argument types share one list
  readonly definitions: ReadonlyArray<JobDefinition<any, any>>
  /** The schedules the admin API lists and controls (none when absent). */
  readonly crons?: ReadonlyArray<CronDefinition> | undefined
}

/** The server the OpenAPI document names: PUBLIC_BASE_URL, or `/` (relative to the document) without it. */
const documentServerUrl = Config.option(Config.url("PUBLIC_BASE_URL")).pipe(
  Config.map(Option.match({ onNone: () => "/", onSome: (url) => url.toString().replace(/\/+$/, "") }))
)

/** What a process serves before its migrations have run (Middleware.ts `untilMigrated`). */
const OPERATIONS: ReadonlySet<string> = new Set(Object.values(OperationPaths))

/** Probes and scrapes are not traced: they would bury the traces that matter. */
const UNTRACED: ReadonlySet<string> = new Set([OperationPaths.liveness, OperationPaths.readiness, OperationPaths.metrics])

export const makeHttpApp = (options: HttpAppOptions) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<HttpServices>()
    const metrics = yield* Metrics
    const health = yield* Health
    const app = new Hono<HttpEnv>()
    app.use("*", requestId(runtime))
    app.use("*", observe(metrics, UNTRACED))
    app.use("*", limitBody())
    app.use("*", untilMigrated((path) => OPERATIONS.has(path) || path.startsWith("/problems/")))
    app.route("/", operationsRoutes({ health, metrics, metricsToken: yield* metricsToken, serverUrl: yield* documentServerUrl }))
    // every role takes Twilio's webhooks: without PUBLIC_BASE_URL, calls report back to the process that placed them
    app.route("/", twilioRoutes())
    if (options.role !== "worker") {
      const admin = yield* adminToken
      app.use(`${PUBLIC_API}*`, principal(admin))
      app.use(`${PUBLIC_API}*`, cors())
      app.use(`${PUBLIC_API}*`, ownCallbacks())
      app.route("/", callbackRoutes())
      app.route("/", topicRoutes())
      app.route("/", publicKeyRoutes())
      app.route("/", businessApiRoutes())
      app.route("/", visitorEventRoutes())
      // the operator console: its own sessions (cookies), CSRF and roles; the JSON admin API below keeps the bearer token
      app.route("/", consoleRoutes({ settings: yield* ConsoleSettings, adminToken: admin, definitions: options.definitions, crons: options.crons ?? [] }))
      app.route("/", widgetRoutes({ production: yield* Production })) // the widget's script; the demo page outside production
      app.use("/admin/api/*", bearer(admin, "the admin API"))
      app.use("/admin/api/*", auditChanges(allRoutes))
      app.route("/", adminJobRoutes(options.definitions, options.crons ?? []))
      app.route("/", adminCallbackRoutes())
      app.route("/", departmentRoutes())
      app.route("/", adminKeyRoutes())
      app.route("/", adminBotCheckRoutes())
      app.route("/", adminWebhookRoutes())
      app.route("/", operatorEventRoutes())
      app.route("/", auditRoutes())
      app.route("/", bulkRoutes())
    }
    app.notFound((c) => problemResponse(c, new NotFound({ detail: `no route for ${c.req.method} ${c.req.path}` })))
    app.onError((error, c) => {
      // handlers run their effects through run(), which maps failures itself: this is for throws in middleware
      Runtime.runSync(runtime)(Effect.logError("request failed outside a handler", error).pipe(Effect.annotateLogs({ request_id: c.get("requestId") })))
      return problemResponse(c, error)
    })
    return app
  })

