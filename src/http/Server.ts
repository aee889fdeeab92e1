/**
 * The HTTP server as a supervised actor (`http`). It listens (infra/http/
 * Listener.ts: @hono/node-server on Node, `Deno.serve` on Deno), beats while the listener
 * is up, and is restarted (listening again) if the listener dies. A failure to
 * listen the first time (port in use) fails start-up instead.
 *
 * Closing: this layer sits below the job engine, so on shutdown it closes only
 * after the pools have drained; until then probes keep answering (readiness
 * 503). Closing stops accepting, lets requests in flight finish for up to 5 s,
 * then drops what is left.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Fetch, listen, runtimeServer } from "../../infra/http/Listener.ts"
import { sleep, spawnActor } from "../../supervisors/Actor.ts"
import { ServerConfig } from "./ServerConfig.ts"

export class HttpServerError extends Data.TaggedError("HttpServerError")<{ readonly message: string }> {}

const WATCH_INTERVAL = Duration.seconds(1)

const listening = (fetch: Fetch, port: number, host: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => listen(fetch, port, host),
      catch: (cause) => new HttpServerError({ message: `cannot listen on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}` })
    }),
    (listener) => Effect.promise(() => listener.close()).pipe(Effect.zipRight(Effect.logInfo("HTTP server closed")))
  )

/** The listening server: the port it bound (PORT, or the one the system chose for PORT=0). */
export class HttpServer extends Context.Tag("switchboard/src/http/HttpServer")<HttpServer, { readonly port: number }>() {}

/** Serves `fetch` on PORT/HOST for the life of the scope. */
export const HttpServerLive = <E, R>(fetch: Effect.Effect<Fetch, E, R>) =>
  Layer.scoped(
    HttpServer,
    Effect.gen(function* () {
      const { port, host } = yield* ServerConfig
      const handler = yield* fetch
      const first = yield* Deferred.make<number, HttpServerError>()
      const serve = Effect.scoped(
        Effect.gen(function* () {
          const listener = yield* listening(handler, port, host)
          yield* Effect.logInfo(`HTTP server listening on http://${host}:${listener.port} (${runtimeServer})`)
          yield* Deferred.succeed(first, listener.port)
          while (listener.alive()) yield* sleep(WATCH_INTERVAL)
          return yield* new HttpServerError({ message: "the HTTP listener stopped" })
        })
      ).pipe(Effect.tapError((error) => Deferred.fail(first, error)))
      yield* spawnActor("http", serve)
      return { port: yield* Deferred.await(first) }
    })
  )
