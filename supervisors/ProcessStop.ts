/**
 * How this process stops itself when an operator asks it to drain. By default
 * it sends itself SIGTERM, so the shutdown is exactly the one a signal starts
 * (src/runMain.ts interrupts the main fiber: readiness turns 503, pools stop
 * claiming and give running jobs SHUTDOWN_GRACE, the process row goes).
 * Processes not run by `runMain` (tests) provide their own: a SIGTERM would end
 * the test runner. The caller asks once; a repeated SIGTERM more than a second
 * later would make `runMain` exit at once.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

export interface ProcessStopService {
  /** Starts this process's graceful shutdown; `reason` is logged. */
  readonly stop: (reason: string) => Effect.Effect<void>
}

export class ProcessStop extends Context.Reference<ProcessStop>()("switchboard/supervisors/ProcessStop", {
  defaultValue: (): ProcessStopService => ({
    stop: (reason) =>
      Effect.logWarning(`${reason}: shutting down as on SIGTERM`).pipe(Effect.zipRight(Effect.sync(() => process.kill(process.pid, "SIGTERM"))))
  })
}) {}
