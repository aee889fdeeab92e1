/**
 * The supervisor: long-running loops ("actors") in a scope, each with a name,
 * a restart policy and a heartbeat into the HealthRegistry.
 *
 * A loop that fails or dies is logged, counted and started again after a
 * capped, jittered exponential backoff (200 ms doubling to 30 s, reset once an
 * incarnation has run for a minute); closing the scope interrupts it for good.
 * Inside its loop an actor beats with `beat`, and says when it is about to
 * wait with `sleep` / `awaitLatch`, so that a long declared wait is not taken
 * for a stall. `loop(step, wait)` beats after every step; actors expose their
 * `runOnce` step for tests and keep the loop here, in the shape
 * `runOnce -> wait -> runOnce`.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import { DatabaseError } from "../infra/db/DatabaseError.ts"
import { HealthRegistry, type HealthRegistryService } from "./HealthRegistry.ts"

/** The actor the current fiber runs as (provided by `spawnActor`). */
export class CurrentActor extends Context.Tag("switchboard/supervisors/CurrentActor")<
  CurrentActor,
  { readonly name: string; readonly registry: HealthRegistryService }
>() {}

const withActor = (f: (actor: Context.Tag.Service<CurrentActor>) => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(CurrentActor), Option.match({ onNone: () => Effect.void, onSome: f }))

/** Heartbeat: the current actor is alive and busy (a no-op outside an actor). */
export const beat: Effect.Effect<void> = withActor((actor) => actor.registry.beat(actor.name))

/** Declares that the current actor is about to wait this long (a retry's backoff, say): no heartbeat is due before it ends. */
export const declareWait = (duration: Duration.DurationInput): Effect.Effect<void> =>
  withActor((actor) => actor.registry.waiting(actor.name, Duration.toMillis(duration)))

/** Sleeps as a declared wait: no heartbeat is due until it ends. */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void> =>
  declareWait(duration).pipe(
    Effect.zipRight(Effect.sleep(duration)),
    Effect.zipRight(beat)
  )

/** Waits for mail (the latch opening), for at most `within` when given, as a declared wait. */
export const awaitLatch = (latch: Effect.Latch, within?: Duration.Duration): Effect.Effect<void> =>
  declareWait(within ?? Duration.infinity).pipe(
    Effect.zipRight(within === undefined ? latch.await : Effect.ignore(Effect.timeout(latch.await, within))),
    Effect.zipRight(beat)
  )

const BACKOFF_BASE_MS = 200
const BACKOFF_CAP_MS = 30_000
/** An incarnation that lived this long before dying restarts from the shortest backoff again. */
const HEALTHY_RUN_MS = 60_000

/** The n-th consecutive restart's delay: 200 ms * 2^n, capped at 30 s, jittered by ±20%. */
export const restartDelay = (n: number, unit: number): number =>
  Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(n, 20)) * (0.8 + 0.4 * unit)

/** Forks `loop` into the current scope under the restart policy; returns its fiber. */
export const spawnActor = <E, R>(
  name: string,
  loop: Effect.Effect<unknown, E, R>
): Effect.Effect<Fiber.RuntimeFiber<void>, never, Exclude<R, CurrentActor> | HealthRegistry | Scope.Scope> =>
  Effect.gen(function* () {
    const registry = yield* HealthRegistry
    yield* registry.enroll(name)
    const body = Effect.provideService(loop, CurrentActor, { name, registry })
    // a loop, not recursion: an actor restarted forever must not grow a chain of frames
    const supervise: Effect.Effect<void, never, Exclude<R, CurrentActor>> = Effect.gen(function* () {
      let consecutive = 0
      for (;;) {
        const startedAt = yield* Clock.currentTimeMillis
        const exit = yield* Effect.exit(body)
        if (Exit.isSuccess(exit)) return // the loop ended on its own: nothing to restart
        if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
        if ((yield* Clock.currentTimeMillis) - startedAt >= HEALTHY_RUN_MS) consecutive = 0
        const delay = restartDelay(consecutive++, yield* Random.next)
        const error = Cause.squash(exit.cause)
        yield* Effect.logError(`actor ${name} stopped; restarting in ${Math.round(delay)} ms`, error)
        yield* registry.restarting(name, error instanceof Error ? error.message : String(error), delay)
        yield* Effect.sleep(Duration.millis(delay))
        yield* registry.enroll(name)
      }
    })
    return yield* supervise.pipe(
      Effect.ensuring(registry.retire(name)),
      Effect.annotateLogs("actor", name),
      Effect.forkScoped
    )
  })

/** A loop that runs `step`, beats, then waits for whatever `step` returned says. */
export const loop = <A, E, R, E2, R2>(
  step: Effect.Effect<A, E, R>,
  wait: (result: A) => Effect.Effect<void, E2, R2>
): Effect.Effect<never, E | E2, R | R2> => Effect.forever(Effect.flatMap(Effect.zipLeft(step, beat), wait))

/**
 * For actors that meet the database on every step: while it does not answer,
 * a step yields `fallback` instead of failing (so the actor keeps its own pace
 * rather than the restart backoff), and the outage is logged once, not on
 * every step. `down()` tells whether the last step found it unreachable.
 */
export const outageTolerant = (what: string) => {
  let down = false
  return {
    down: () => down,
    step: <A, E, R>(step: Effect.Effect<A, E | DatabaseError, R>, fallback: A): Effect.Effect<A, Exclude<E, DatabaseError>, R> =>
      step.pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            down = false
          })
        ),
        Effect.catchIf(
          (error): error is DatabaseError => error instanceof DatabaseError,
          (error) =>
            Effect.as(
              down
                ? Effect.void
                : Effect.sync(() => {
                    down = true
                  }).pipe(Effect.zipRight(Effect.logWarning(`${what} paused until the database answers: ${error.message}`))),
              fallback
            )
        )
      ) as Effect.Effect<A, Exclude<E, DatabaseError>, R>
  }
}
