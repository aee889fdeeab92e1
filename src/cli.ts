/**
 * `switchboard <command>` (run as `npm run switchboard -- <command>`):
 *   migrate                         apply pending migrations and exit
 *   start | worker                  run everything, or only the job engine (ROLE=worker)
 *   enqueue <kind> <json> [--run-at ISO] [--priority N] [--unique-key K]
 *   jobs [--state S] [--queue Q] [--kind K] [--limit N]
 *   simulator                       run the Twilio simulator alone (never in production)
 */
import { runMain } from "./runMain.ts"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { JobStates, type JobState } from "../domain/jobs/JobState.ts"
import { DatabaseLive } from "../infra/db/Database.ts"
import { migrate } from "../infra/db/Migrator.ts"
import { enqueue } from "../infra/jobs/Jobs.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { appFor, MigratedDatabaseLive, type Role } from "./App.ts"
import { crons, handlers } from "./jobs/index.ts"
import { LoggingLive } from "../infra/observability/Logging.ts"
import { Metrics } from "../infra/observability/Metrics.ts"
import { SimulatorConfig, startSimulator } from "../infra/twilio/Simulator.ts"
import { Production } from "./http/Tokens.ts"

class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A command that cannot run here (the simulator in production, a port in use). */
class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly message: string }> {}

/** The job store over the migrated database, for the commands that read or write jobs. */
const Stores = JobStore.Default.pipe(Layer.provide(Layer.merge(MigratedDatabaseLive, Metrics.Default)))

const USAGE = `usage: switchboard <command>
  migrate                                   apply pending migrations
  start                                     run everything (ROLE=all): HTTP API and job engine
  worker                                    run the job engine (ROLE=worker; HTTP serves only probes and metrics)
  enqueue <kind> <json> [--run-at ISO] [--priority N] [--unique-key K]
  jobs [--state S] [--queue Q] [--kind K] [--limit N]
  simulator                                 run the Twilio simulator alone on SIMULATOR_HOST:SIMULATOR_PORT (127.0.0.1:4010;
                                            TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN); refused when NODE_ENV=production`

/** Splits `--name value` flags from positional arguments. */
const parseArgs = (argv: ReadonlyArray<string>) => {
  const positional: Array<string> = []
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined]
      const value = inline ?? argv[++i]
      if (value === undefined) throw new UsageError({ message: `--${name} needs a value` })
      flags.set(name, value)
    } else positional.push(arg)
  }
  return { positional, flags }
}

const flagInt = (flags: Map<string, string>, name: string): number | undefined => {
  const text = flags.get(name)
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new UsageError({ message: `--${name} must be a whole number` })
  return Number(text)
}

const enqueueCommand = (kind: string | undefined, json: string | undefined, flags: Map<string, string>) =>
  Effect.gen(function* () {
    const handler = handlers.find((h) => h.definition.kind === kind)
    if (kind === undefined || handler === undefined) {
      return yield* new UsageError({ message: `unknown job kind ${kind ?? "(none)"}; known: ${handlers.map((h) => h.definition.kind).join(", ")}` })
    }
    const raw = yield* Effect.try({ try: () => JSON.parse(json ?? "{}") as unknown, catch: () => new UsageError({ message: "arguments are not valid JSON" }) })
    const args = yield* Schema.decodeUnknown(handler.definition.args)(raw).pipe(
      Effect.mapError((error) => new UsageError({ message: `arguments do not match ${kind}: ${ParseResult.TreeFormatter.formatErrorSync(error)}` }))
    )
    const runAtText = flags.get("run-at")
    const runAt = runAtText === undefined ? undefined : new Date(runAtText)
    if (runAt !== undefined && Number.isNaN(runAt.getTime())) return yield* new UsageError({ message: "--run-at must be an ISO-8601 time" })
    const inserted = yield* enqueue(handler.definition, args, { runAt, priority: flagInt(flags, "priority"), uniqueKey: flags.get("unique-key") })
    yield* Console.log(JSON.stringify(inserted))
  })

const jobsCommand = (flags: Map<string, string>) =>
  Effect.gen(function* () {
    const state = flags.get("state")
    if (state !== undefined && !JobStates.includes(state as JobState)) {
      return yield* new UsageError({ message: `--state must be one of ${JobStates.join(", ")}` })
    }
    const store = yield* JobStore
    const jobs = yield* store.list({ state: state as JobState | undefined, queue: flags.get("queue"), kind: flags.get("kind"), limit: flagInt(flags, "limit") ?? 50 })
    for (const job of jobs) {
      const lastError = job.errors.at(-1)
      yield* Console.log(
        [job.id, job.queue, job.kind, job.state, `${job.attempt}/${job.maxAttempts}`, job.runAt.toISOString(), lastError ? `${lastError.kind}: ${lastError.message.split("\n")[0]}` : ""].join("\t")
      )
    }
  })

/** Serves the Twilio simulator until a shutdown signal, then closes it; prints the URL it listens on. */
const simulatorCommand = Effect.gen(function* () {
  if (yield* Production) {
    return yield* new CommandFailed({ message: "the Twilio simulator does not run with NODE_ENV=production: it would answer as Twilio with well-known credentials" })
  }
  const config = yield* SimulatorConfig
  const simulator = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        startSimulator({
          accountSid: config.accountSid,
          authToken: Redacted.value(config.authToken),
          port: config.port,
          host: config.host,
          onCallbackError: (url, error) => console.error(`simulator: callback to ${url} failed: ${String(error)}`)
        }),
      catch: (error) => new CommandFailed({ message: `the Twilio simulator cannot listen on ${config.host}:${config.port}: ${String(error)}` })
    }),
    (running) => Effect.promise(() => running.close())
  )
  yield* Console.log(`Twilio simulator listening on ${simulator.url} (account ${config.accountSid})`)
  return yield* Effect.never
}).pipe(Effect.scoped)

/** Runs the whole process in this role until a shutdown signal (its layers bring their own logging). */
const serve = (role: Role) => Layer.launch(appFor(role, { handlers, crons }))

const program = Effect.gen(function* () {
  const { positional, flags } = yield* Effect.try({ try: () => parseArgs(process.argv.slice(2)), catch: (e) => e as UsageError })
  const [command, ...rest] = positional
  switch (command) {
    case "migrate":
      return yield* migrate.pipe(
        Effect.flatMap((applied) => Console.log(applied.length === 0 ? "database is up to date" : `applied ${applied.map((m) => m.label).join(", ")}`)),
        Effect.provide(DatabaseLive),
        Effect.provide(LoggingLive)
      )
    case "start":
    case "worker":
      return yield* serve(command === "start" ? "all" : "worker")
    case "enqueue":
      return yield* enqueueCommand(rest[0], rest[1], flags).pipe(Effect.provide(Stores), Effect.provide(LoggingLive))
    case "jobs":
      return yield* jobsCommand(flags).pipe(Effect.provide(Stores), Effect.provide(LoggingLive))
    case "simulator":
      return yield* simulatorCommand
    default:
      return yield* new UsageError({ message: command === undefined ? "no command given" : `unknown command ${command}` })
  }
})

runMain(
  program.pipe(
    Effect.catchTag("UsageError", (error) =>
      Console.error(`${error.message}\n\n${USAGE}`).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 2))))
    ),
    Effect.catchTag("InvalidJob", (error) => Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 2))))),
    Effect.catchTag("CommandFailed", (error) => Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1)))))
  )
)
