/**
 * The application's layers, composed once for every entry point.
 *
 * Start-up order, one layer after the other:
 *   logging, tracing -> health registry, metrics, lifecycle -> database ->
 *   stores -> the LISTEN notifier (shared by the engine and the live event
 *   streams) -> HTTP server (probes answer from here on; readiness waits for
 *   migrations) -> migrations -> job engine (role) -> drain trigger
 * Shutdown runs it backwards: the drain trigger turns readiness 503 and ends
 * the live event streams at once, the engine stops claiming and gives running jobs SHUTDOWN_GRACE, hands back
 * the rest and deletes its process row, then the HTTP server closes and the
 * database pool (and an embedded server) stop.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { CronDefinition } from "../domain/jobs/CronDefinition.ts"
import { type CallbackConfig, CallbackConfigLive } from "../infra/callbacks/CallbackConfig.ts"
import { type CallbackTables, CallbackTablesLive } from "../infra/callbacks/CallbackTables.ts"
import { type ConsoleTables, ConsoleTablesLive } from "../infra/console/ConsoleTables.ts"
import { DatabaseLive, type DatabaseUrl } from "../infra/db/Database.ts"
import type { DatabaseError } from "../infra/db/DatabaseError.ts"
import { Transaction } from "../infra/db/Transaction.ts"
import { migrate } from "../infra/db/Migrator.ts"
import { BulkJobs } from "../infra/jobs/BulkJobs.ts"
import { EngineControls } from "../infra/jobs/EngineControls.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import type { Notifier } from "../infra/jobs/Notifier.ts"
import { ProcessRegistry } from "../infra/jobs/ProcessRegistry.ts"
import { LoggingLive } from "../infra/observability/Logging.ts"
import { Metrics } from "../infra/observability/Metrics.ts"
import { TracingLive } from "../infra/observability/Tracing.ts"
import type { Telephony } from "../infra/twilio/Telephony.ts"
import { TwilioGateway, TwilioLive } from "../infra/twilio/TwilioGateway.ts"
import { EngineConfigLive } from "../supervisors/EngineConfig.ts"
import { type HealthRegistry, HealthRegistryLive } from "../supervisors/HealthRegistry.ts"
import type { JobHandler } from "../supervisors/JobRegistry.ts"
import { DrainOnShutdownLive, Lifecycle } from "../supervisors/Lifecycle.ts"
import { MetricSourcesLive } from "../supervisors/MetricSources.ts"
import { ProcessIdentityLive } from "../supervisors/ProcessIdentity.ts"
import { EngineCoreLive, NotifierLive } from "../supervisors/Worker.ts"
import { Health } from "./http/Health.ts"
import { makeHttpApp } from "./http/HttpApp.ts"
import { HttpServer, HttpServerLive } from "./http/Server.ts"
import { ServerConfig } from "./http/ServerConfig.ts"
import { CallbackMetricsLive } from "./callbacks/CallbackMetrics.ts"
import { LiveEvents } from "./callbacks/LiveEvents.ts"
import type { HandlerServices, SqlConnection } from "./jobs/HandlerServices.ts"
import { crons as appCrons, handlers as appHandlers } from "./jobs/index.ts"

export type Role = "all" | "web" | "worker"

export const RoleConfig = Config.literal("all", "web", "worker")("ROLE").pipe(
  Config.withDefault("all" as const),
  Config.withDescription("what this process runs: all (default), web (HTTP API, no job pools) or worker (job pools, operations routes only)")
)

/** Applies pending migrations (under an advisory lock, so replicas starting together are safe). */
export const MigrationsLive = Layer.effectDiscard(
  migrate.pipe(
    Effect.tap((applied) => (applied.length > 0 ? Effect.logInfo(`applied migrations: ${applied.map((m) => m.label).join(", ")}`) : Effect.void)),
    // a serving process's API waits for this (Middleware.ts `untilMigrated`); commands have no lifecycle
    Effect.zipRight(Effect.flatMap(Effect.serviceOption(Lifecycle), Option.match({ onNone: () => Effect.void, onSome: (lifecycle) => lifecycle.markMigrated })))
  )
)

/** The database, migrated before anything uses it (for commands without an HTTP server). */
export const MigratedDatabaseLive = MigrationsLive.pipe(Layer.provideMerge(DatabaseLive))

export type { HandlerServices } from "./jobs/HandlerServices.ts"

export interface AppOptions {
  readonly handlers: ReadonlyArray<JobHandler<HandlerServices>>
  readonly crons: ReadonlyArray<CronDefinition>
}

type ProcessLayer = Layer.Layer<
  never,
  ConfigError.ConfigError | DatabaseError,
  JobStore | ProcessRegistry | HealthRegistry | Metrics | SqlConnection | Transaction | DatabaseUrl | CallbackTables | CallbackConfig | TwilioGateway | Telephony | Notifier | ConsoleTables | BulkJobs
>

/** What a role runs besides HTTP: the whole engine, or (web) only its process row and heartbeat. */
const processFor = (role: Role, options: AppOptions): ProcessLayer =>
  role === "web"
    ? Layer.discard(ProcessIdentityLive(role).pipe(Layer.provide(EngineConfigLive)))
    : Layer.discard(EngineCoreLive({ role, handlers: options.handlers, crons: options.crons }))

/**
 * Tells the Twilio gateway where this process listens: without PUBLIC_BASE_URL, webhook URLs
 * point here (loopback when it listens on every interface).
 */
const SelfUrlLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const { port } = yield* HttpServer
    const { host } = yield* ServerConfig
    const reachable = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host
    yield* Effect.flatMap(TwilioGateway, (g) => g.listeningAt(`http://${reachable}:${port}`))
  })
)

/** The whole process for `role`. */
export const appFor = (role: Role, options: AppOptions, tracing: Layer.Layer<never, ConfigError.ConfigError> = TracingLive(role)) => {
  const http = HttpServerLive(makeHttpApp({ role, definitions: options.handlers.map((h) => h.definition), crons: options.crons }).pipe(Effect.map((app) => app.fetch))).pipe(
    Layer.provide(Health.Default)
  )
  return DrainOnShutdownLive.pipe(
    Layer.provideMerge(processFor(role, options)),
    Layer.provideMerge(MigrationsLive),
    Layer.provideMerge(SelfUrlLive),
    Layer.provideMerge(http),
    Layer.provideMerge(Layer.mergeAll(MetricSourcesLive([...new Set(options.handlers.map((h) => h.definition.queue))], options.crons), CallbackMetricsLive)),
    Layer.provideMerge(TwilioLive),
    Layer.provideMerge(LiveEvents.Default),
    Layer.provideMerge(NotifierLive),
    Layer.provideMerge(Layer.mergeAll(JobStore.Default, ProcessRegistry.Default, EngineControls.Default, BulkJobs.Default, CallbackTablesLive, Transaction.Default, CallbackConfigLive)),
    Layer.provideMerge(ConsoleTablesLive),
    Layer.provideMerge(DatabaseLive),
    Layer.provideMerge(Layer.mergeAll(HealthRegistryLive, Metrics.Default, Lifecycle.Default)),
    Layer.provide(tracing),
    Layer.provide(LoggingLive)
  )
}

/** The process `ROLE` names, with this application's job kinds and schedules. */
export const makeApp = (options: AppOptions) => Layer.unwrapEffect(Effect.map(RoleConfig, (role) => appFor(role, options)))

export const AppLive = makeApp({ handlers: appHandlers, crons: appCrons })
