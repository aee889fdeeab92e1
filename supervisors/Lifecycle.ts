/**
 * The process's lifecycle as readiness sees it: serving, or draining after a
 * shutdown signal. `DrainOnShutdownLive` sits on top of the application's
 * layers, so its finalizer is the first to run when the main fiber is
 * interrupted: readiness turns 503 before pools stop claiming and long before
 * the HTTP server closes.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export class Lifecycle extends Effect.Service<Lifecycle>()("switchboard/supervisors/Lifecycle", {
  sync: () => {
    let draining = false
    return {
      draining: Effect.sync(() => draining),
      beginDrain: Effect.sync(() => {
        draining = true
      })
    }
  }
}) {}

export const DrainOnShutdownLive = Layer.scopedDiscard(
  Effect.flatMap(Lifecycle, (lifecycle) =>
    Effect.addFinalizer(() => lifecycle.beginDrain.pipe(Effect.zipRight(Effect.logInfo("shutting down: readiness is 503, draining"))))
  )
)
