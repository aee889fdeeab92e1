/**
 * Wake-ups over LISTEN/NOTIFY, on a connection of its own.
 *
 * State: one `pg.Client` that LISTENs on `switchboard_jobs`, and the callbacks
 * subscribed per payload (a queue name, `@scheduled` for promoters, or
 * `@controls` when operators paused or resumed a queue: EngineControls.ts).
 *
 * How it fails: a LISTEN connection can die without an error reaching the
 * client, and then simply receives nothing. So the actor probes itself: every
 * `probeInterval` it NOTIFYs a token on its own connection and expects it back
 * within `probeTimeout`; a missing echo, an error or an `end` event ends the
 * session and a new connection is made after a capped backoff. Because
 * notifications sent while nobody listened are lost, every subscriber is woken
 * when a session (re)starts. Pools also poll on a timer, so a deaf listener
 * costs latency, never a job.
 *
 * The listening loop is handed to a runner: the supervisor runs it as the
 * `notifier` actor, and every echoed probe is its heartbeat (`onAlive`).
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import pg from "pg"
import { DatabaseUrl } from "../db/Database.ts"
import { JOBS_CHANNEL } from "./JobStore.ts"

export interface NotifierService {
  /** Calls `onWake` for every notification with this payload (and on every reconnect) for the life of the scope. */
  readonly subscribe: (payload: string, onWake: () => void) => Effect.Effect<void, never, Scope.Scope>
  /** Whether the LISTEN connection is up and answered its last probe. */
  readonly isListening: Effect.Effect<boolean>
}

export class Notifier extends Context.Tag("switchboard/infra/Notifier")<Notifier, NotifierService>() {}

export interface NotifierOptions {
  readonly probeInterval: Duration.DurationInput
  readonly probeTimeout: Duration.DurationInput
  /** Runs after every echoed probe (the supervisor's heartbeat). */
  readonly onAlive?: Effect.Effect<void> | undefined
  /** Called before each wait (between probes, before a reconnect) with its length: the supervisor's declared wait. */
  readonly declareWait?: ((duration: Duration.Duration) => Effect.Effect<void>) | undefined
}

/** Starts the listening loop for the life of the scope (by default a plain scoped fork). */
export type ListenerRunner<R = never> = (listen: Effect.Effect<never>) => Effect.Effect<unknown, never, Scope.Scope | R>

const PROBE_PREFIX = "@probe:"

export const make = <R = never>(url: string, options: NotifierOptions, run: ListenerRunner<R> = Effect.forkScoped) =>
  Effect.gen(function* () {
    const declareWait = options.declareWait ?? (() => Effect.void)
    const subscribers = new Map<string, Set<() => void>>()
    let listening = false

    const wakeAll = () => {
      for (const callbacks of subscribers.values()) for (const callback of callbacks) callback()
    }

    /** One connection's life: connect, LISTEN, probe until something breaks. Fails with why it ended. */
    const session = Effect.acquireUseRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new pg.Client({ connectionString: url, application_name: "switchboard-listener", connectionTimeoutMillis: 5_000 })
          client.on("error", () => {}) // surfaced through `broken` below
          await client.connect()
          return client
        },
        catch: (cause) => new Error(`listener could not connect: ${String(cause)}`)
      }),
      (client) =>
        Effect.gen(function* () {
          const broken = yield* Deferred.make<never, Error>()
          let pending: { token: string; echoed: Deferred.Deferred<void> } | undefined
          client.on("notification", (message) => {
            const payload = message.payload ?? ""
            if (payload.startsWith(PROBE_PREFIX)) {
              if (pending !== undefined && payload === PROBE_PREFIX + pending.token) Deferred.unsafeDone(pending.echoed, Effect.void)
              return
            }
            const callbacks = subscribers.get(payload)
            if (callbacks !== undefined) for (const callback of callbacks) callback()
          })
          const fail = (why: string) => Deferred.unsafeDone(broken, Effect.fail(new Error(why)))
          client.on("error", (error) => fail(`listener connection error: ${error.message}`))
          client.on("end", () => fail("listener connection ended"))
          yield* Effect.tryPromise({ try: () => client.query(`LISTEN ${JOBS_CHANNEL}`), catch: (cause) => new Error(`LISTEN failed: ${String(cause)}`) })
          listening = true
          wakeAll()
          const probe = Effect.gen(function* () {
            const echoed = yield* Deferred.make<void>()
            const token = randomUUID()
            pending = { token, echoed }
            yield* Effect.tryPromise({
              try: () => client.query("SELECT pg_notify($1, $2)", [JOBS_CHANNEL, PROBE_PREFIX + token]),
              catch: (cause) => new Error(`listener probe failed: ${String(cause)}`)
            })
            yield* Deferred.await(echoed)
            if (options.onAlive !== undefined) yield* options.onAlive
          }).pipe(
            // the NOTIFY itself may hang on a dead connection, so the deadline covers the round trip
            Effect.timeoutFail({ duration: options.probeTimeout, onTimeout: () => new Error("listener went deaf: probe not echoed") })
          )
          const interval = Duration.decode(options.probeInterval)
          const pause = Effect.zipRight(declareWait(interval), Effect.sleep(interval))
          const probing = probe.pipe(Effect.zipRight(pause), Effect.forever)
          return yield* Effect.raceFirst(probing, Deferred.await(broken))
        }),
      (client) =>
        Effect.sync(() => {
          listening = false
        }).pipe(Effect.zipRight(Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.interruptible, Effect.timeout("2 seconds"), Effect.ignore)))
    )

    yield* run(
      session.pipe(
        Effect.tapError((error) => Effect.logWarning(`notifier: ${error.message}; reconnecting`)),
        Effect.retry(
          Schedule.exponential("100 millis").pipe(
            Schedule.union(Schedule.spaced("5 seconds")),
            Schedule.jittered,
            Schedule.delays,
            Schedule.tapOutput(declareWait)
          )
        ),
        Effect.orDie, // the schedule never ends
        Effect.annotateLogs("actor", "notifier")
      )
    )

    const service: NotifierService = {
      subscribe: (payload, onWake) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const callbacks = subscribers.get(payload) ?? new Set()
            callbacks.add(onWake)
            subscribers.set(payload, callbacks)
          }),
          () => Effect.sync(() => subscribers.get(payload)?.delete(onWake))
        ),
      isListening: Effect.sync(() => listening)
    }
    return service
  })

export const NotifierConfig = {
  probeInterval: Duration.seconds(5),
  probeTimeout: Duration.seconds(3)
}

/** The notifier over the database in `DatabaseUrl`, its loop started by `run`, reporting to its supervisor through `supervision`. */
export const layer = <R>(run: ListenerRunner<R>, supervision: Pick<NotifierOptions, "onAlive" | "declareWait"> = {}) =>
  Layer.scoped(
    Notifier,
    Effect.gen(function* () {
      const url = yield* DatabaseUrl
      return yield* make(Redacted.value(url), { ...NotifierConfig, ...supervision }, run)
    })
  )
