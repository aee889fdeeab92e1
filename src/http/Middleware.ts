/**
 * Cross-cutting concerns as Hono middleware: the request id, the server span
 * and HTTP metrics, the body size limit, bearer-token auth and Twilio's
 * request signature.
 */
import { randomUUID } from "node:crypto"
import { createMiddleware } from "hono/factory"
import type { Context as HonoContext } from "hono"
import { bodyLimit } from "hono/body-limit"
import { routePath } from "hono/route"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type { Metrics } from "../../infra/observability/Metrics.ts"
import { parentFrom } from "../../infra/observability/TraceContext.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { Lifecycle } from "../../supervisors/Lifecycle.ts"
import { type HttpEnv, type HttpServices, problemResponse } from "./Handler.ts"
import { Forbidden, MalformedBody, PayloadTooLarge, Unauthorized, Unavailable } from "./Problems.ts"
import { matchesToken } from "./Tokens.ts"

export const BODY_LIMIT_BYTES = 64 * 1024

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Takes a well-formed `X-Request-Id` from the client or makes one; echoes it on the response. */
export const requestId = (runtime: Runtime.Runtime<HttpServices>) =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const given = c.req.header("x-request-id")
    const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID()
    c.set("requestId", id)
    c.set("runtime", runtime)
    c.set("span", undefined)
    await next()
    c.res.headers.set("X-Request-Id", id)
  })

/** The route pattern that answered, or `unmatched` (a label of bounded cardinality). */
const routeOf = (path: string): string => (path === "*" || path === "/*" ? "unmatched" : path)

/**
 * One server span per request (continuing an incoming `traceparent`; probe and
 * scrape paths are not traced) and the request counter and duration histogram.
 * The span is made and ended synchronously around the chain, so a request
 * costs no extra fiber; handlers' effects run inside it (`run`).
 */
export const observe = (metrics: Metrics, untraced: ReadonlySet<string>) =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const started = performance.now()
    const route = routeOf(routePath(c, -1))
    const method = c.req.method
    if (untraced.has(c.req.path)) await next()
    else {
      const runSync = Runtime.runSync(c.get("runtime"))
      const span = runSync(
        Effect.makeSpan(route === "unmatched" ? method : `${method} ${route}`, {
          kind: "server",
          // Twilio's webhooks carry the call attempt's trace in their URL (src/callbacks/Dialer.ts), not in a header
          parent: Option.getOrUndefined(parentFrom(c.req.header("traceparent") ?? (c.req.path.startsWith("/twilio/") ? c.req.query("traceparent") : undefined))),
          captureStackTrace: false,
          attributes: { "http.request.method": method, "http.route": route, "url.path": c.req.path, "request.id": c.get("requestId") }
        })
      )
      c.set("span", span)
      try {
        await next()
      } finally {
        const status = c.res.status
        span.attribute("http.response.status_code", status)
        span.end(runSync(Clock.currentTimeNanos), status >= 500 ? Exit.fail(`HTTP ${status}`) : Exit.void)
      }
    }
    const labels = { method, route, status: String(c.res.status) }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, (performance.now() - started) / 1000)
  })

/**
 * Until this build's migrations have run, everything but the paths `exempt` names (the probes,
 * metrics and documents) is a 503 with `Retry-After`: the server listens for the probes from the
 * start, and a request that reached it early would otherwise meet tables that do not exist yet.
 */
export const untilMigrated = (exempt: (path: string) => boolean) => {
  let migrated = false // once true, for good: no effect run per request after that
  return createMiddleware<HttpEnv>(async (c, next) => {
    if (!migrated && !exempt(c.req.path)) {
      const lifecycle = Context.getOption(c.get("runtime").context, Lifecycle)
      migrated = Option.isNone(lifecycle) || Runtime.runSync(c.get("runtime"))(lifecycle.value.migrated)
      if (!migrated) return problemResponse(c, new Unavailable({ detail: "starting: the database's migrations have not been applied yet", retryAfterSeconds: 2 }))
    }
    await next()
  })
}

/**
 * Bodies over 64 KiB are refused with a 413 problem before a handler reads them. A GET, HEAD or OPTIONS
 * body is never read, and a declared length is judged from the header: only a body of unknown length is
 * counted as it streams (hono's `bodyLimit`). Asking for the body at all turns @hono/node-server's light
 * request into a full `Request`, a fifth of a probe's CPU, and takes a POST's JSON off its fast path.
 */
export const limitBody = () => {
  const refuse = (c: HonoContext<HttpEnv>) => problemResponse(c, new PayloadTooLarge({ detail: `the body is over ${BODY_LIMIT_BYTES} bytes` }))
  const streamed = bodyLimit({ maxSize: BODY_LIMIT_BYTES, onError: refuse })
  return createMiddleware<HttpEnv>(async (c, next) => {
    const method = c.req.method
    if (method === "GET" || method === "HEAD" || method === "OPTIONS") return next()
    const length = c.req.header("content-length")
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) return streamed(c, next)
    return Number(length) > BODY_LIMIT_BYTES ? refuse(c) : next()
  })
}

/**
 * `Authorization: Bearer <token>`: 401 when missing or malformed, 403 when
 * wrong. Tokens are compared as SHA-256 digests with a timing-safe compare, so
 * neither their content nor their length leaks through timing.
 */
export const bearer = (token: Redacted.Redacted<string>, realm: string) => {
  const matches = matchesToken(token)
  return createMiddleware(async (c, next) => {
    const header = c.req.header("authorization")
    const match = header === undefined ? null : /^Bearer +([\x21-\x7e]+) *$/i.exec(header)
    if (match === null || match[1] === undefined) {
      return problemResponse(c, new Unauthorized({ detail: `${realm} needs an Authorization: Bearer <token> header` }))
    }
    if (!matches(match[1])) return problemResponse(c, new Forbidden({ detail: `the token is not valid for ${realm}` }))
    await next()
  })
}

/**
 * `X-Twilio-Signature`: Twilio's signature of the URL it called (under
 * PUBLIC_BASE_URL) and of the form parameters of the body, whatever the body's
 * content type says. A missing or wrong one is a 403 before anything else
 * about the request is looked at, so an unsigned request learns nothing.
 */
export const twilioSignature = () =>
  createMiddleware<HttpEnv>(async (c, next) => {
    let text: string
    try {
      text = await c.req.text() // Hono keeps the text: the validator reads it again
    } catch {
      return problemResponse(c, new MalformedBody({ detail: "the body could not be read" }))
    }
    const params: Record<string, string> = {}
    for (const [name, value] of new URLSearchParams(text)) params[name] = value
    const url = new URL(c.req.url)
    const valid = await Runtime.runPromise(c.get("runtime"))(
      Effect.flatMap(TwilioGateway, (gateway) => gateway.verifySignature(c.req.header("x-twilio-signature"), url.pathname + url.search, params))
    )
    if (!valid) return problemResponse(c, new Forbidden({ detail: "missing or invalid X-Twilio-Signature" }))
    await next()
  })
