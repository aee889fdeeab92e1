/**
 * The commands of `switchboard` (src/cli.ts), each over the layers it needs:
 * the servers (`start`, `worker`), `migrate`, `enqueue` and `jobs` over the
 * migrated database, and the Twilio simulator alone. Exit status 2 for a usage
 * error or refused input (with the usage only for a usage error), 1 for a
 * command that cannot run here.
 */
import { runMain } from "../runMain.ts"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { JobStates, type JobState } from "../../domain/jobs/JobState.ts"
import { DatabaseLive } from "../../infra/db/Database.ts"
import { migrate } from "../../infra/db/Migrator.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { appFor, MigratedDatabaseLive, type Role } from "../App.ts"
import { type CommandLine, USAGE, UsageError } from "./Arguments.ts"
import { EnvFileError, loadEnvFile } from "./EnvFile.ts"
import { crons, handlers } from "../jobs/index.ts"
import { LoggingLive } from "../../infra/observability/Logging.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { SimulatorConfig, startSimulator } from "../../infra/twilio/Simulator.ts"
import { Production } from "../http/Tokens.ts"
import { OperatorName, Password, Role as OperatorRole, TOKEN_OPERATOR } from "../../domain/console/Operator.ts"
import { AuditLog } from "../../infra/console/AuditLog.ts"
import { Operators } from "../../infra/console/Operators.ts"
import { readPassword } from "./PasswordInput.ts"
import * as Either from "effect/Either"

/** A well-formed command whose input is refused (an unknown job kind, arguments its schema refuses): says why, exits 2. */
class InputRefused extends Data.TaggedError("InputRefused")<{ readonly message: string }> {}

/** A command that cannot run here (the simulator in production, a port in use). */
class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly message: string }> {}

/** The job store over the migrated database, for the commands that read or write jobs. */
const Stores = JobStore.Default.pipe(Layer.provide(Layer.merge(MigratedDatabaseLive, Metrics.Default)))

const optionInt = (options: ReadonlyMap<string, string>, name: string): Effect.Effect<number | undefined, UsageError> => {
  const text = options.get(name)
  if (text === undefined) return Effect.succeed(undefined)
  return /^\d+$/.test(text) ? Effect.succeed(Number(text)) : new UsageError({ message: `--${name} must be a whole number` })
}

/** Each problem the schema found, one per line, named by its path in the arguments (`escalation.0.phone`). */
const describeIssues = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `  ${issue.path.length === 0 ? "(the arguments)" : issue.path.map(String).join(".")}: ${issue.message}`)
    .join("\n")

/** The handler of `kind` and its arguments decoded by its schema, refusing fields the schema does not name. */
const jobInput = (kind: string, json: string | undefined) =>
  Effect.gen(function* () {
    const handler = handlers.find((h) => h.definition.kind === kind)
    if (handler === undefined) {
      return yield* new InputRefused({ message: `unknown job kind ${kind}; known: ${handlers.map((h) => h.definition.kind).join(", ")}` })
    }
    const raw = yield* Effect.try({
      try: () => JSON.parse(json ?? "{}") as unknown,
      catch: (error) => new InputRefused({ message: `the arguments of ${kind} are not JSON: ${error instanceof Error ? error.message : String(error)}` })
    })
    const args: unknown = yield* Schema.decodeUnknown(handler.definition.args, { errors: "all", onExcessProperty: "error" })(raw).pipe(
      Effect.mapError((error) => new InputRefused({ message: `the arguments of ${kind} are refused:\n${describeIssues(error)}` }))
    )
    return { definition: handler.definition, args }
  })

const enqueueCommand = (positional: ReadonlyArray<string>, options: ReadonlyMap<string, string>) =>
  Effect.gen(function* () {
    const { definition, args } = yield* jobInput(positional[0] ?? "", positional[1])
    const runAtText = options.get("run-at")
    const runAt = runAtText === undefined ? undefined : new Date(runAtText)
    if (runAt !== undefined && Number.isNaN(runAt.getTime())) return yield* new UsageError({ message: "--run-at must be an ISO-8601 time" })
    const priority = yield* optionInt(options, "priority")
    // the arguments are checked before the database is opened: a refusal needs no database
    const inserted = yield* enqueue(definition, args, { runAt, priority, uniqueKey: options.get("unique-key") }).pipe(Effect.provide(Stores))
    yield* Console.log(JSON.stringify(inserted))
  })

const JOB_COLUMNS = ["id", "queue", "kind", "state", "attempt", "run_at", "last_error"]

const jobsCommand = (options: ReadonlyMap<string, string>) =>
  Effect.gen(function* () {
    const state = options.get("state")
    if (state !== undefined && !JobStates.includes(state as JobState)) {
      return yield* new UsageError({ message: `--state must be one of ${JobStates.join(", ")}` })
    }
    const limit = (yield* optionInt(options, "limit")) ?? 50
    const jobs = yield* Effect.flatMap(JobStore, (store) =>
      store.list({ state: state as JobState | undefined, queue: options.get("queue"), kind: options.get("kind"), limit })
    ).pipe(Effect.provide(Stores))
    yield* Console.log(JOB_COLUMNS.join("\t"))
    for (const job of jobs) {
      const lastError = job.errors.at(-1)
      yield* Console.log(
        [job.id, job.queue, job.kind, job.state, `${job.attempt}/${job.maxAttempts}`, job.runAt.toISOString(), lastError ? `${lastError.kind}: ${lastError.message.split("\n")[0]}` : ""].join("\t")
      )
    }
  })

const OperatorStores = Layer.mergeAll(Operators.Default, AuditLog.Default).pipe(Layer.provide(MigratedDatabaseLive))

/** `operator add|remove|list`: the console's accounts, each change audited as done from the command line. */
const operatorCommand = (positional: ReadonlyArray<string>, options: ReadonlyMap<string, string>) =>
  Effect.gen(function* () {
    const [verb, name] = positional
    const role = options.get("role") ?? "admin"
    if (verb === "list") {
      if (name !== undefined || options.has("role")) return yield* new UsageError({ message: "operator list takes no name or options" })
      const accounts = yield* Effect.flatMap(Operators, (operators) => operators.list).pipe(Effect.provide(OperatorStores))
      yield* Console.log(["name", "role", "created_at", "updated_at"].join("\t"))
      for (const a of accounts) yield* Console.log([a.name, a.role, a.createdAt.toISOString(), a.updatedAt.toISOString()].join("\t"))
      return
    }
    if (verb !== "add" && verb !== "remove") return yield* new UsageError({ message: `operator takes add, remove or list, not ${verb ?? "nothing"}` })
    if (name === undefined) return yield* new UsageError({ message: `operator ${verb} needs a name` })
    if (!Schema.is(OperatorName)(name) || name === TOKEN_OPERATOR) {
      return yield* new InputRefused({ message: `an operator's name must be 1 to 63 lowercase letters, digits, '.', '_', '@' or '-', and not ${TOKEN_OPERATOR}` })
    }
    if (!Schema.is(OperatorRole)(role)) return yield* new UsageError({ message: "--role must be admin or viewer" })
    const actor = { name: process.env["USER"] === undefined ? "cli" : `cli:${process.env["USER"]}`, via: "cli" as const }
    if (verb === "remove") {
      if (options.has("role")) return yield* new UsageError({ message: "operator remove takes no --role" })
      const removed = yield* Effect.flatMap(Operators, (operators) => operators.remove(name)).pipe(
        Effect.tap((gone) => Effect.flatMap(AuditLog, (log) => log.record(actor, { action: "removeOperator", target: `operator:${name}`, outcome: gone ? "ok" : "refused" }))),
        Effect.provide(OperatorStores)
      )
      if (!removed) return yield* new InputRefused({ message: `no operator ${name}` })
      return yield* Console.log(`removed ${name}; its sessions have ended`)
    }
    const password = yield* readPassword(`password for ${name}: `)
    const problem = Either.match(Schema.decodeUnknownEither(Password)(password), { onLeft: (error) => describeIssues(error).trim(), onRight: () => undefined })
    if (problem !== undefined) return yield* new InputRefused({ message: `the password is refused: it ${problem.replace(/^\(the arguments\): /, "")}` })
    const created = yield* Effect.flatMap(Operators, (operators) => operators.upsert(name, role, password)).pipe(
      Effect.tap((isNew) => Effect.flatMap(AuditLog, (log) => log.record(actor, { action: isNew ? "addOperator" : "changeOperator", target: `operator:${name}`, detail: { role } }))),
      Effect.provide(OperatorStores)
    )
    yield* Console.log(created ? `created ${name} (${role})` : `changed ${name} (${role}); its sessions have ended`)
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

/** Runs one parsed command line. */
const run = (line: Extract<CommandLine, { _tag: "Run" }>) =>
  Effect.gen(function* () {
    const { command, positional, options, envFile } = line
    if (envFile !== undefined) {
      yield* Effect.try({ try: () => loadEnvFile(envFile), catch: (error) => (error instanceof EnvFileError ? error : new EnvFileError({ message: String(error) })) })
    }
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
        return yield* enqueueCommand(positional, options).pipe(Effect.provide(LoggingLive))
      case "jobs":
        return yield* jobsCommand(options).pipe(Effect.provide(LoggingLive))
      case "operator":
        return yield* operatorCommand(positional, options).pipe(Effect.provide(LoggingLive))
      case "simulator":
        return yield* simulatorCommand
      default:
        return yield* new UsageError({ message: `unknown command ${command}` })
    }
  })

/** Prints `message` to stderr and sets the exit status. */
const refuse = (message: string, status: number) => Console.error(message).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = status))))

/** Runs the command until it ends (or, for the servers, until a shutdown signal); sets the exit status. */
export const runCommand = (line: Extract<CommandLine, { _tag: "Run" }>): void =>
  runMain(
    run(line).pipe(
      Effect.catchTags({
        UsageError: (error) => refuse(`${error.message}\n\n${USAGE}`, 2),
        InputRefused: (error) => refuse(error.message, 2),
        EnvFileError: (error) => refuse(error.message, 2),
        InvalidJob: (error) => refuse(error.message, 2),
        CommandFailed: (error) => refuse(error.message, 1)
      })
    )
  )
