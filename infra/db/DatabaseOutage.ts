/**
 * Database outages, logged once each rather than once per failed request.
 *
 * State: whether the database is down, since when, and how many failures were
 * seen since the first. The first failure of an outage logs one warning
 * (`database unavailable: <reason>`); the ones after it are only counted.
 * While it is down, a watcher asks the database `SELECT 1` every second; its
 * first answer (or any other confirmed answer, such as a readiness probe's)
 * ends the outage with one info line (`database available again after …`).
 *
 *   up ──failed: warn, start the watcher──> down ──failed: count──> down
 *   down ──answered (watcher or probe)──> up: info
 *
 * A watcher probe is bounded by PROBE_TIMEOUT and disconnected, so a hung pool
 * or socket delays the next probe, never the watcher for good. The tracker
 * never fails: it only decides what to log.
 */
import { SqlClient } from "@effect/sql"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"

const PROBE_INTERVAL = Duration.seconds(1)
const PROBE_TIMEOUT = Duration.seconds(2)

type State =
  | { readonly _tag: "up"; readonly outages: number }
  | { readonly _tag: "down"; readonly outage: number; readonly since: number; readonly failures: number }

export class DatabaseOutage extends Effect.Service<DatabaseOutage>()("switchboard/infra/DatabaseOutage", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const started = yield* Queue.unbounded<number>()
    const state = yield* Ref.make<State>({ _tag: "up", outages: 0 })

    /** Ends the outage numbered `outage` (any outage when undefined) and logs how it went. */
    const end = (outage: number | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (s): readonly [Effect.Effect<void>, State] =>
          s._tag === "down" && (outage === undefined || outage === s.outage)
            ? [
                Effect.logInfo(
                  `database available again after ${Duration.format(Duration.millis(now - s.since))} (${s.failures} failure${s.failures === 1 ? "" : "s"} during the outage, the first one logged)`
                ),
                { _tag: "up", outages: s.outage }
              ]
            : [Effect.void, s]
        )
      ).pipe(Effect.flatten)

    const probe = sql`SELECT 1`.pipe(Effect.disconnect, Effect.timeout(PROBE_TIMEOUT), Effect.withTracerEnabled(false))

    /** For each outage started, asks the database until it answers, then ends that outage. */
    const watch = Queue.take(started).pipe(
      Effect.flatMap((outage) => probe.pipe(Effect.delay(PROBE_INTERVAL), Effect.retry(Schedule.spaced(PROBE_INTERVAL)), Effect.zipRight(end(outage)))),
      Effect.forever
    )
    // forked here, not from the request that found the outage: its lines carry no request's id or span
    yield* Effect.forkScoped(watch)

    /** A request (or probe) found the database unavailable for `reason`: the first one of an outage logs a warning. */
    const failed = (reason: string): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (s): readonly [number | undefined, State] =>
          s._tag === "down" ? [undefined, { ...s, failures: s.failures + 1 }] : [s.outages + 1, { _tag: "down", outage: s.outages + 1, since: now, failures: 1 }]
        )
      ).pipe(
        Effect.flatMap((outage) =>
          outage === undefined ? Effect.void : Effect.zipRight(Effect.logWarning(`database unavailable: ${reason}`), Queue.offer(started, outage))
        ),
        Effect.asVoid
      )

    return {
      failed,
      /** The database answered: ends an outage in progress. */
      answered: end(undefined),
      /** Whether an outage is in progress. */
      down: Effect.map(Ref.get(state), (s) => s._tag === "down")
    } as const
  })
}) {}
