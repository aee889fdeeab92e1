/**
 * Runs the program until SIGINT/SIGTERM, like `NodeRuntime.runMain`, with one
 * difference: a repeat of the signal within a second is the same request, not
 * a second one. A Ctrl-C under `npm start` reaches the app twice, once from the
 * terminal (the whole process group) and once relayed by npm, and the repeat
 * must not abort the graceful shutdown the first one started. A signal after
 * that window exits at once (130 for SIGINT, 143 for SIGTERM).
 */
import { makeRunMain } from "@effect/platform/Runtime"
import type * as Effect from "effect/Effect"

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

/** Runs `effect` as the program; logging is the application's own (LoggingLive), not runMain's pretty logger. */
export const runMain = <E, A>(effect: Effect.Effect<A, E>): void => runMainWithSignals(effect, { disablePrettyLogger: true })
