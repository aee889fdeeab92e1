import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { describe, expect, it } from "vitest"
import { lineOf, loggingTo } from "../../../infra/observability/Logging.ts"

describe("JSON log lines", () => {
  it("carry level, message, annotations and the ids of the span they were written in", async () => {
    const lines: Array<Record<string, unknown>> = []
    const capture = Logger.replace(Logger.defaultLogger, Logger.make((options) => lines.push(lineOf(options))))
    const span = await Effect.runPromise(
      Effect.gen(function* () {
        yield* Effect.logWarning("inside", 42).pipe(Effect.annotateLogs({ job: "7" }))
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("work"), Effect.provide(capture))
    )
    await Effect.runPromise(Effect.logInfo("outside").pipe(Effect.provide(capture)))
    expect(lines[0]).toMatchObject({ level: "warn", message: "inside 42", job: "7", trace_id: span.traceId, span_id: span.spanId })
    expect(lines[1]).toMatchObject({ level: "info", message: "outside" })
    expect(lines[1]).not.toHaveProperty("trace_id")
  })

  it("LOG_LEVEL drops lines below it, and an invalid value fails start-up naming the variable", async () => {
    const written: Array<string> = []
    const run = (level: string) =>
      Effect.runPromiseExit(
        Effect.all([Effect.logInfo("info line"), Effect.logError("error line")]).pipe(
          Effect.provide(
            loggingTo((line) => written.push(line)).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["LOG_LEVEL", level]])))))
          )
        )
      )
    expect((await run("error"))._tag).toBe("Success")
    expect(written.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual(["error line"])
    const invalid = await run("loud")
    expect(invalid._tag).toBe("Failure")
    expect(JSON.stringify(invalid)).toContain("LOG_LEVEL")
  })
})
