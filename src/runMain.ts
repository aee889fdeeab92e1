/**
 * Runs the program until SIGINT/SIGTERM, like `NodeRuntime.runMain`, with one
 * difference: a repeat of the signal within a second is the same request, not
 * a second one. A Ctrl-C under `npm start` reaches the app twice, once from the
 * terminal (the whole process group) and once relayed by npm, and the repeat
 * must not abort the graceful shutdown the first one started. A signal after
 * that window exits at once (130 for SIGINT, 143 for SIGTERM).
 *
 * A program that fails (invalid configuration, a database it cannot reach at
 * start) logs one line whose message says what failed, such as
 * `invalid configuration: ADMIN_TOKEN: must be at least 16 characters of visible ASCII`,
 * and exits 1.
 */
import { makeRunMain } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { jsonLogger } from "../infra/observability/Logging.ts"

const REPEAT_WINDOW_MS = 1_000

const runMainWithSignals = makeRunMain(({ fiber, teardown }) => {
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let signalledAt: number | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now()
    if (signalledAt === undefined) {
      signalledAt = now
      fiber.unsafeInterruptAsFork(fiber.id())
    } else if (now - signalledAt >= REPEAT_WINDOW_MS) {
      process.exit(signal === "SIGINT" ? 130 : 143)
    }
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
    clearInterval(keepAlive)
    teardown(exit, (code) => {
      if (signalledAt !== undefined || code !== 0) process.exit(code)
    })
  })
})

/** `NAME: rule` for one configuration error; a message that opens with the variable's name (`NAME must …`) keeps it once. */
const configLeaf = (path: ReadonlyArray<string>, message: string): string => {
  const name = path.join("_")
  const named = /^([A-Z][A-Z0-9_]*):?\s+([\s\S]*)$/.exec(message)
  if (named !== null && (name === "" || named[1] === name)) return `${named[1]}: ${named[2]}`
  return name === "" ? message : `${name}: ${message}`
}

/** Every variable and rule a configuration error names, in one line. */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  switch (error._op) {
    case "And":
      return `${describeConfigError(error.left)}; ${describeConfigError(error.right)}`
    case "Or":
      return `${describeConfigError(error.left)} (or ${describeConfigError(error.right)})`
    default:
      return configLeaf(error.path, error.message)
  }
}

const describeValue = (value: unknown): string => {
  if (ConfigError.isConfigError(value)) return `invalid configuration: ${describeConfigError(value)}`
  const { message, _tag } = (typeof value === "object" && value !== null ? value : {}) as { readonly message?: unknown; readonly _tag?: unknown }
  if (typeof message === "string" && message !== "") return message
  return typeof _tag === "string" ? _tag : String(value)
}

/** What made the program fail, in one line: each failure's message (a configuration error as `NAME: rule`). */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const reasons = [...Cause.failures(cause), ...Cause.defects(cause)].map(describeValue)
  return [...new Set(reasons)].join("; ") || Cause.pretty(cause)
}

/** One line for a program that failed; the cause (with stacks) only for a defect, which is a bug. */
const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.gen(function* () {
    if (Cause.isInterruptedOnly(cause)) return
    const pretty = yield* Config.literal("json", "pretty")("LOG_FORMAT").pipe(
      Config.withDefault("json" as const),
      Effect.orElseSucceed(() => "json" as const),
      Effect.map((format) => format === "pretty")
    )
    const line = Effect.logError(describeFailure(cause), ...(Cause.isDie(cause) ? [cause] : []))
    // exactly one logger, whichever the application's layers left installed (if they got that far), and whatever LOG_LEVEL says
    yield* line.pipe(
      Effect.locally(FiberRef.currentLoggers, HashSet.make(pretty ? Logger.prettyLoggerDefault : jsonLogger())),
      Effect.locally(FiberRef.currentMinimumLogLevel, LogLevel.Error)
    )
  })

/** Runs `effect` as the program; logging is the application's own (LoggingLive), not runMain's pretty logger. */
export const runMain = <E, A>(effect: Effect.Effect<A, E>): void =>
  runMainWithSignals(Effect.tapErrorCause(effect, reportFailure), { disablePrettyLogger: true, disableErrorReporting: true })
