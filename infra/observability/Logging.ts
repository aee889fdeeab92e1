/**
 * Logs as JSON lines on stdout: `time`, `level`, `message`, the fiber's log
 * annotations (actor, process, request_id, ...), and `trace_id` / `span_id`
 * of the span the line was logged in, so a log line leads to its trace.
 * `LOG_LEVEL` sets the minimum level; `LOG_FORMAT=pretty` is for humans.
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : part instanceof Error ? part.message : safeJson(part))).join(" ")
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** One log line as the object that is written. */
export const lineOf = (options: Logger.Logger.Options<unknown>): Record<string, unknown> => {
  const line: Record<string, unknown> = {
    time: options.date.toISOString(),
    level: options.logLevel.label.toLowerCase(),
    message: messageText(options.message)
  }
  for (const [key, value] of HashMap.toEntries(options.annotations)) line[key] = value
  const span = Context.getOption(FiberRefs.getOrDefault(options.context, FiberRef.currentContext), Tracer.ParentSpan)
  if (Option.isSome(span)) {
    line.trace_id = span.value.traceId
    line.span_id = span.value.spanId
  }
  if (!Cause.isEmpty(options.cause)) line.cause = Cause.pretty(options.cause, { renderErrorCause: true })
  return line
}

/** Writes each line as JSON to `write` (stdout by default). */
export const jsonLogger = (write: (line: string) => void = (line) => globalThis.process.stdout.write(line)) =>
  Logger.make((options) => write(safeJson(lineOf(options)) + "\n"))

const LogLevelConfig = Config.literal("all", "trace", "debug", "info", "warning", "error", "fatal", "none")("LOG_LEVEL").pipe(
  Config.withDefault("info" as const),
  Config.withDescription("minimum level logged: trace, debug, info, warning, error, fatal, none")
)

const LogFormat = Config.literal("json", "pretty")("LOG_FORMAT").pipe(
  Config.withDefault("json" as const),
  Config.withDescription("json (one object per line) or pretty (for a terminal)")
)

const levels: Record<Config.Config.Success<typeof LogLevelConfig>, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/** Replaces the default logger as configured (JSON lines to `write`); fails start-up on an invalid LOG_LEVEL or LOG_FORMAT. */
export const loggingTo = (write?: (line: string) => void) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const level = yield* LogLevelConfig
      const format = yield* LogFormat
      const logger = format === "json" ? Logger.replace(Logger.defaultLogger, jsonLogger(write)) : Logger.pretty
      return Layer.merge(logger, Logger.minimumLogLevel(levels[level]))
    })
  )

export const LoggingLive = loggingTo()
