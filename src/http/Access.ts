/**
 * Who calls the public API, and from which web page.
 *
 * `principal` reads the caller's credential on `/v1/*`: a business key
 * (`?key=pk_...`, which is how a web page sends it so that CORS preflights
 * can be answered per business, or `Authorization: Bearer pk_.../sk_...`; a
 * secret key in the URL is refused) or the admin token. A key is looked up on every request (BusinessKeys), so a
 * revoked key is refused at once by every process; an unknown, revoked or
 * malformed credential is a 401. A route's contract says what it needs
 * (`security: "key"` or `"secret"`), and `requirePrincipal` holds it to that.
 *
 * `cors` answers browsers. A request without `Origin` (a server, curl) or from
 * the API's own origin passes untouched. A cross-origin request is judged by
 * the business it is for (the key's, or the callback request's for
 * `/v1/callbacks/{id}/...`): from one of the business's `allowedOrigins`, a
 * preflight gets 204 and the response `Access-Control-Allow-Origin: <origin>`
 * with `Vary: Origin`; from any other origin, a 403 before anything runs, so
 * a page not on the list creates nothing. Credentials (cookies) are never
 * allowed, and no `*` is ever sent.
 *
 * `ownCallbacks` keeps a key to its own business's callback requests.
 */
import type { Context as HonoContext } from "hono"
import { createMiddleware } from "hono/factory"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { type KeyKind, kindOf } from "../../domain/callbacks/Keys.ts"
import { isUuid } from "../../domain/Ids.ts"
import { BusinessKeys } from "../../infra/callbacks/BusinessKeys.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import type { Security } from "./Contract.ts"
import { attempt, type HttpEnv, type HttpServices, problemResponse } from "./Handler.ts"
import { NotFound, type ValidationFailed, validationFailedAt } from "../Failures.ts"
import { Forbidden, Unauthorized } from "./Problems.ts"
import { matchesToken } from "./Tokens.ts"

/** Who is calling: a business's key, or an operator with the admin token. */
export type Principal = { readonly kind: "admin" } | { readonly kind: KeyKind; readonly businessId: string; readonly keyId: string }

/** The credential a request carries: `?key=`, else a bearer token that is not a stream token. */
const credentialOf = (c: HonoContext<HttpEnv>): string | undefined => {
  const query = c.req.query("key")
  if (query !== undefined) return query
  const bearer = /^Bearer +(\S+) *$/i.exec(c.req.header("authorization") ?? "")?.[1]
  return bearer === undefined || bearer.startsWith("cst_") ? undefined : bearer
}

/** Sets `principal` from the request's credential, or answers 401 for one that is not valid. */
export const principal = (adminToken: Redacted.Redacted<string>) => {
  const isAdmin = matchesToken(adminToken)
  return createMiddleware<HttpEnv>(async (c, next) => {
    c.set("principal", undefined)
    const credential = credentialOf(c)
    if (credential === undefined) return next()
    if (c.req.query("key") !== undefined && kindOf(credential) === "secret") {
      // URLs end up in logs, browser histories and Referer headers: a secret key there is as good as published
      return problemResponse(c, new Unauthorized({ detail: "a secret key goes in Authorization: Bearer, never in the URL; revoke this one if the URL was logged or shared" }))
    }
    if (kindOf(credential) === undefined) {
      if (isAdmin(credential)) {
        c.set("principal", { kind: "admin" })
        return next()
      }
      return problemResponse(c, new Unauthorized({ detail: "the credential is not a business key (pk_..., sk_...) or the admin token" }))
    }
    const owner = await attempt(c, Effect.flatMap(BusinessKeys, (keys) => keys.resolve(credential)))
    if ("response" in owner) return owner.response
    if (Option.isNone(owner.value)) return problemResponse(c, new Unauthorized({ detail: "unknown or revoked key" }))
    c.set("principal", owner.value.value)
    return next()
  })
}

/** What a route's `security` asks of the principal: nothing (public, admin, ...), any key or the admin token, or a secret key. */
export const requirePrincipal = (security: Security) =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const who = c.get("principal")
    if (who === undefined) {
      return problemResponse(c, new Unauthorized({ detail: `this route needs ${security === "secret" ? "a secret key (sk_...)" : "a business key (?key=pk_... or Authorization: Bearer)"}` }))
    }
    if (security === "secret" && who.kind === "publishable") return problemResponse(c, new Forbidden({ detail: "a publishable key may only create and follow callbacks; this route needs a secret key" }))
    if (security === "secret" && who.kind === "admin") {
      return problemResponse(c, new Forbidden({ detail: "this route serves one business's secret key; the admin token has the same under /admin/api" }))
    }
    return next()
  })

/** The id of the callback request a path names (`/v1/callbacks/{id}/...`). */
const callbackIdOf = (c: HonoContext<HttpEnv>): string | undefined => /^\/v1\/callbacks\/([^/]+)/.exec(c.req.path)?.[1]

const owners = new WeakMap<Request, Option.Option<string>>()

/** The business of callback request `id` (none when there is no such request), looked up at most once per request. */
const ownerOf = (c: HonoContext<HttpEnv>, id: string): Effect.Effect<Option.Option<string>, unknown, HttpServices> => {
  const known = owners.get(c.req.raw)
  if (known !== undefined) return Effect.succeed(known)
  if (!isUuid(id)) return Effect.succeed(Option.none())
  return Effect.flatMap(RequestStore, (requests) => requests.streamAccess(id)).pipe(
    Effect.map(Option.map((access) => access.businessId)),
    Effect.tap((owner) => Effect.sync(() => owners.set(c.req.raw, owner)))
  )
}

/** The business a public request is for: the callback request's (by its id in the path), else the key's. */
const businessOf = (c: HonoContext<HttpEnv>): Effect.Effect<Option.Option<string>, unknown, HttpServices> => {
  const id = callbackIdOf(c)
  if (id !== undefined) return ownerOf(c, id)
  const who = c.get("principal")
  return Effect.succeed(who === undefined || who.kind === "admin" ? Option.none() : Option.some(who.businessId))
}

/**
 * A business key reaches its own business's callback requests only: with another business's, a
 * request under `/v1/callbacks/{id}` is a 404, as if there were no such request. (Without a key, a
 * request's id alone still finds it: the visitor's page may not hold one.)
 */
export const ownCallbacks = () =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const who = c.get("principal")
    const id = callbackIdOf(c)
    if (who === undefined || who.kind === "admin" || id === undefined) return next()
    const owner = await attempt(c, ownerOf(c, id))
    if ("response" in owner) return owner.response
    if (Option.isSome(owner.value) && owner.value.value !== who.businessId) return problemResponse(c, new NotFound({ detail: `no callback request ${id}` }))
    return next()
  })

const ALLOWED_HEADERS = "Content-Type, Authorization, Idempotency-Key, Last-Event-ID, X-Request-Id"
const EXPOSED_HEADERS = "Retry-After, Idempotent-Replayed, X-Request-Id"

/** CORS for `/v1/*` (see the module's comment). */
export const cors = () =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const origin = c.req.header("origin")
    if (origin === undefined || origin === new URL(c.req.url).origin) return next()
    const allowed = await attempt(
      c,
      Effect.flatMap(businessOf(c), (business) =>
        Option.isNone(business)
          ? Effect.succeed(false)
          : Effect.map(
              Effect.flatMap(BusinessStore, (store) => store.find(business.value)),
              Option.exists((b) => b.allowedOrigins.includes(origin))
            )
      )
    )
    if ("response" in allowed) return allowed.response
    if (!allowed.value) {
      const refused = problemResponse(c, new Forbidden({ detail: `pages from ${origin} may not call this API for this business (it is not one of the business's allowed origins)` }))
      refused.headers.set("Vary", "Origin")
      return refused
    }
    if (c.req.method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: {
          "Access-Control-Allow-Origin": origin,
          "Access-Control-Allow-Methods": "GET, POST",
          "Access-Control-Allow-Headers": ALLOWED_HEADERS,
          "Access-Control-Max-Age": "600",
          Vary: "Origin"
        }
      })
    }
    await next()
    c.res.headers.set("Access-Control-Allow-Origin", origin)
    c.res.headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS)
    c.res.headers.append("Vary", "Origin")
  })

/**
 * The business a create is for: a key's own (a publishable key names it, and may not name another
 * in the body; a secret key may repeat its own), or with the admin token, the body's `businessId`.
 */
export const businessFor = (who: Principal | undefined, bodyBusinessId: string | undefined): Effect.Effect<string, Unauthorized | Forbidden | ValidationFailed> => {
  if (who === undefined) return Effect.fail(new Unauthorized({ detail: "a create needs a business key (?key=pk_... or Authorization: Bearer) or the admin token" }))
  if (who.kind === "admin") {
    return bodyBusinessId === undefined ? Effect.fail(validationFailedAt("body", "/businessId", "is required with the admin token")) : Effect.succeed(bodyBusinessId)
  }
  if (bodyBusinessId === undefined) return Effect.succeed(who.businessId)
  if (who.kind === "publishable") return Effect.fail(new Forbidden({ detail: "a publishable key names its business: leave businessId out (it is accepted only with a secret key or the admin token)" }))
  return bodyBusinessId === who.businessId ? Effect.succeed(who.businessId) : Effect.fail(new Forbidden({ detail: "this key belongs to another business" }))
}
