/**
 * The process's lifecycle as readiness sees it: starting (the HTTP server
 * listens for the probes before the migrations have run, and the API answers
 * 503 until they have), serving, or draining after a shutdown signal.
 * `DrainOnShutdownLive` sits on top of the application's
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
    const schema = yield* Deferred.make<void>()
    return {
      /** Whether this build's migrations have been applied (by this process, or found applied). */
      migrated: Deferred.isDone(schema),
      markMigrated: Deferred.succeed(schema, undefined).pipe(Effect.asVoid),
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
