/**
 * Long-running loops ("actors") in a scope. A loop that fails or dies is
 * logged and restarted after a capped, jittered exponential backoff; closing
 * the scope interrupts it. Each actor exposes its `runOnce` step for tests and
 * keeps its loop here, in the shape `runOnce -> wait -> runOnce`.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { DatabaseError } from "../infra/db/DatabaseError.ts"

export const restartSchedule = Schedule.exponential(Duration.millis(200), 2).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(30))),
  Schedule.jittered
)

/** Forks `loop` into the current scope under the restart policy; returns its fiber. */
export const spawnActor = <E, R>(
  name: string,
  loop: Effect.Effect<unknown, E, R>
): Effect.Effect<Fiber.RuntimeFiber<void>, never, R | Scope.Scope> =>
  loop.pipe(
    Effect.sandbox,
    Effect.tapError((cause) => Effect.logError(`actor ${name} stopped; restarting`, Cause.squash(cause))),
    Effect.retry({ schedule: restartSchedule, while: (cause) => !Cause.isInterruptedOnly(cause) }),
    Effect.ignore,
    Effect.annotateLogs("actor", name),
    Effect.forkScoped
  )

/** A loop that runs `step`, then waits for whatever `step` returned says. */
export const loop = <A, E, R, E2, R2>(
  step: Effect.Effect<A, E, R>,
  wait: (result: A) => Effect.Effect<void, E2, R2>
): Effect.Effect<never, E | E2, R | R2> => Effect.forever(Effect.flatMap(step, wait))

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
