/**
 * The health registry: what every supervised actor last said about itself.
 *
 * State: one entry per actor name with the time of its last heartbeat, how
 * long it declared it would wait before the next one, how often it was
 * restarted and why it last stopped. Nothing here touches the database, so
 * `/livez` can answer from it while Postgres is down.
 *
 * An actor is *stalled* when it is busy (not in a declared wait) and has not
 * beaten for `ACTOR_STALL_TIMEOUT`: a step that blocks forever, a loop that
 * spins without yielding back. A declared wait (`sleep` for a known time, or an
 * open-ended wait for mail) is not a stall; the deadline moves to the end of
 * the wait. An actor in its restart backoff counts as waiting for that long.
 *
 *     beat ──► busy ──(no beat for ACTOR_STALL_TIMEOUT)──► stalled
 *       ▲        │
 *       └─ wait ◄┘   (deadline = end of wait + ACTOR_STALL_TIMEOUT)
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { duration } from "../infra/config/Env.ts"

export interface ActorReport {
  readonly name: string
  /** Seconds since the actor last beat while busy; 0 while it waits as it said it would. */
  readonly heartbeatAgeSeconds: number
  readonly restarts: number
  /** False once the actor ended for good (its scope closed); only running actors can stall. */
  readonly running: boolean
  readonly stalled: boolean
  readonly lastError: string | undefined
}

interface Entry {
  lastBeat: number
  /** The actor waits until then (Infinity: for mail); no beat is due before it. */
  waitingUntil: number
  restarts: number
  lastError: string | undefined
  running: boolean
}

export interface HealthRegistryService {
  readonly stallTimeout: Duration.Duration
  /** Adds (or revives) an actor; called by the supervisor when it starts one. */
  readonly enroll: (name: string) => Effect.Effect<void>
  /** The actor is alive and busy now. */
  readonly beat: (name: string) => Effect.Effect<void>
  /** The actor is alive and will wait up to `forMillis` (Infinity for an open-ended wait) before its next beat. */
  readonly waiting: (name: string, forMillis: number) => Effect.Effect<void>
  /** The actor died and will be started again after `backoffMillis`. */
  readonly restarting: (name: string, error: string, backoffMillis: number) => Effect.Effect<void>
  /** The actor ended for good (its scope closed); it can no longer stall, its restarts still count. */
  readonly retire: (name: string) => Effect.Effect<void>
  readonly report: Effect.Effect<ReadonlyArray<ActorReport>>
}

export class HealthRegistry extends Context.Tag("switchboard/supervisors/HealthRegistry")<HealthRegistry, HealthRegistryService>() {}

export const make = (stallTimeout: Duration.Duration): Effect.Effect<HealthRegistryService> =>
  Effect.sync(() => {
    const entries = new Map<string, Entry>()
    const stallMillis = Duration.toMillis(stallTimeout)
    const entry = (name: string, now: number): Entry => {
      let found = entries.get(name)
      if (found === undefined) {
        found = { lastBeat: now, waitingUntil: now, restarts: 0, lastError: undefined, running: true }
        entries.set(name, found)
      }
      return found
    }
    /** The actor showed life at `now` and will wait `waitMillis` before it must again. */
    const alive = (name: string, now: number, waitMillis: number): Entry => {
      const e = entry(name, now)
      e.lastBeat = now
      e.waitingUntil = now + waitMillis
      return e
    }
    const withNow = (f: (now: number) => unknown) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void f(now)))
    return {
      stallTimeout,
      enroll: (name) => withNow((now) => (alive(name, now, 0).running = true)),
      beat: (name) => withNow((now) => alive(name, now, 0)),
      waiting: (name, forMillis) => withNow((now) => alive(name, now, forMillis)),
      restarting: (name, error, backoffMillis) =>
        withNow((now) => {
          const e = alive(name, now, backoffMillis)
          e.restarts++
          e.lastError = error
        }),
      retire: (name) =>
        Effect.sync(() => {
          const e = entries.get(name)
          if (e !== undefined) e.running = false
        }),
      report: Effect.map(Clock.currentTimeMillis, (now) =>
        [...entries].map(([name, e]) => {
          const busySince = Math.max(e.lastBeat, e.waitingUntil)
          return {
            name,
            heartbeatAgeSeconds: e.running && now > busySince ? (now - busySince) / 1000 : 0,
            restarts: e.restarts,
            running: e.running,
            stalled: e.running && now - busySince > stallMillis,
            lastError: e.lastError
          }
        })
      )
    } satisfies HealthRegistryService
  })

export const ActorStallTimeout = duration(
  "ACTOR_STALL_TIMEOUT",
  "60 seconds",
  "an actor busy this long without a heartbeat fails /livez"
)

export const HealthRegistryLive = Layer.effect(HealthRegistry, Effect.flatMap(ActorStallTimeout, make))
