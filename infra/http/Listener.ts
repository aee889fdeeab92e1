/**
 * A listening HTTP socket for a fetch handler, on whichever runtime runs us:
 * @hono/node-server on Node, `Deno.serve` on Deno. Closing stops accepting,
 * lets requests in flight finish for up to 5 s, then drops what is left.
 */
import type * as http from "node:http"
import { createAdaptorServer } from "@hono/node-server"

export type Fetch = (request: Request, env?: unknown) => Response | Promise<Response>

export interface Listener {
  readonly port: number
  readonly alive: () => boolean
  readonly close: () => Promise<void>
}

const CLOSE_TIMEOUT_MS = 5_000

interface DenoServer {
  readonly finished: Promise<void>
  readonly addr: { readonly port: number }
  shutdown(): Promise<void>
}
interface DenoGlobal {
  serve(options: { port: number; hostname: string; onListen?: () => void }, handler: (request: Request, info: unknown) => Response | Promise<Response>): DenoServer
}
const deno = (globalThis as { Deno?: DenoGlobal }).Deno

/**
 * The request as the app sees it on Deno: the same method, URL, headers and
 * body stream, with a signal of its own. Deno's legacy `request.signal` aborts
 * after every successful response and, once read, warns about it; copying a
 * request reads it (Hono's body limit copies a request with a chunked body).
 * Nothing here ties work to a request's signal.
 */
const detachedFromSignal = (request: Request): Request =>
  new Request(request.url, { method: request.method, headers: request.headers, body: request.body, duplex: "half" } as RequestInit & { duplex: "half" })

const listenDeno = (runtime: DenoGlobal, fetch: Fetch, port: number, host: string): Promise<Listener> =>
  new Promise((resolve) => {
    let finished = false
    const server = runtime.serve({ port, hostname: host, onListen: () => undefined }, (request, info) => fetch(detachedFromSignal(request), info))
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

/** Which server `listen` uses here. */
export const runtimeServer: string = deno === undefined ? "node:http" : "Deno.serve"

/** Listens on `host:port` (port 0: any free one); rejects when it cannot (port in use...). */
export const listen = (fetch: Fetch, port: number, host: string): Promise<Listener> =>
  deno === undefined ? listenNode(fetch, port, host) : listenDeno(deno, fetch, port, host)

/** The client's socket address from the `env` a listener hands the fetch handler (Node or Deno), if known. */
export const remoteAddress = (env: unknown): string | undefined => {
  const node = (env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming?.socket?.remoteAddress
  if (typeof node === "string") return node
  const denoAddr = (env as { remoteAddr?: { hostname?: unknown } } | undefined)?.remoteAddr?.hostname
  return typeof denoAddr === "string" ? denoAddr : undefined
}
