/**
 * The HTTP server as a supervised actor (`http`). It listens with
 * @hono/node-server on Node and `Deno.serve` on Deno, beats while the listener
 * is up, and is restarted (listening again) if the listener dies. A failure to
 * listen the first time (port in use) fails start-up instead.
 *
 * Closing: this layer sits below the job engine, so on shutdown it closes only
 * after the pools have drained; until then probes keep answering (readiness
 * 503). Closing stops accepting, lets requests in flight finish for up to 5 s,
 * then drops what is left.
 */
import type * as http from "node:http"
import { createAdaptorServer } from "@hono/node-server"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { sleep, spawnActor } from "../../supervisors/Actor.ts"
import { ServerConfig } from "./ServerConfig.ts"

type Fetch = (request: Request, env?: unknown) => Response | Promise<Response>

interface Listener {
  readonly port: number
  readonly alive: () => boolean
  readonly close: () => Promise<void>
}

export class HttpServerError extends Data.TaggedError("HttpServerError")<{ readonly message: string }> {}

const CLOSE_TIMEOUT_MS = 5_000
const WATCH_INTERVAL = Duration.seconds(1)

interface DenoServer {
  readonly finished: Promise<void>
  readonly addr: { readonly port: number }
  shutdown(): Promise<void>
}
interface DenoGlobal {
  serve(options: { port: number; hostname: string; onListen?: () => void }, handler: (request: Request, info: unknown) => Response | Promise<Response>): DenoServer
}
const deno = (globalThis as { Deno?: DenoGlobal }).Deno

const listenDeno = (runtime: DenoGlobal, fetch: Fetch, port: number, host: string): Promise<Listener> =>
  new Promise((resolve) => {
    let finished = false
    const server = runtime.serve({ port, hostname: host, onListen: () => undefined }, (request, info) => fetch(request, info))
    void server.finished.then(() => (finished = true))
    resolve({
      port: server.addr.port,
      alive: () => !finished,
      close: () =>
        Promise.race([server.shutdown(), new Promise<void>((done) => setTimeout(done, CLOSE_TIMEOUT_MS))])
    })
  })

const listenNode = (fetch: Fetch, port: number, host: string): Promise<Listener> =>
  new Promise((resolve, reject) => {
    const server = createAdaptorServer({ fetch, hostname: host }) as http.Server
    server.once("error", reject)
    server.listen(port, host, () => {
      server.off("error", reject)
      let failed = false
      server.on("error", () => (failed = true))
      const address = server.address()
      resolve({
        port: typeof address === "object" && address !== null ? address.port : port,
        alive: () => server.listening && !failed,
        close: () =>
          new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), CLOSE_TIMEOUT_MS)
            server.close(() => {
              clearTimeout(force)
              done()
            })
            server.closeIdleConnections()
          })
      })
    })
  })

const listen = (fetch: Fetch, port: number, host: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => (deno === undefined ? listenNode(fetch, port, host) : listenDeno(deno, fetch, port, host)),
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
          const listener = yield* listen(handler, port, host)
          yield* Effect.logInfo(`HTTP server listening on http://${host}:${listener.port} (${deno === undefined ? "node:http" : "Deno.serve"})`)
          yield* Deferred.succeed(first, listener.port)
          while (listener.alive()) yield* sleep(WATCH_INTERVAL)
          return yield* new HttpServerError({ message: "the HTTP listener stopped" })
        })
      ).pipe(Effect.tapError((error) => Deferred.fail(first, error)))
      yield* spawnActor("http", serve)
      return { port: yield* Deferred.await(first) }
    })
  )
