/**
 * The process's lifecycle as readiness sees it: serving, or draining after a
 * shutdown signal. `DrainOnShutdownLive` sits on top of the application's
 * layers, so its finalizer is the first to run when the main fiber is
 * interrupted: readiness turns 503 and live event streams end before pools
 * stop claiming and long before the HTTP server closes.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export class Lifecycle extends Effect.Service<Lifecycle>()("switchboard/supervisors/Lifecycle", {
  effect: Effect.gen(function* () {
    const drain = yield* Deferred.make<void>()
    return {
      draining: Deferred.isDone(drain),
      /** Resumes once draining begins (at once when it has): long-lived responses end on it. */
      whenDraining: Deferred.await(drain),
      beginDrain: Deferred.succeed(drain, undefined).pipe(Effect.asVoid)
    }
  })
}) {}

export const DrainOnShutdownLive = Layer.scopedDiscard(
  Effect.flatMap(Lifecycle, (lifecycle) =>
    Effect.addFinalizer(() => lifecycle.beginDrain.pipe(Effect.zipRight(Effect.logInfo("shutting down: readiness is 503, draining"))))
  )
)
