/**
 * The console's sessions and the guards of its routes.
 *
 * Signing in (SignIn.tsx) opens a session (infra/console/Operators.ts) and
 * sets its id in a cookie that is HttpOnly, SameSite=Strict, signed
 * (HMAC-SHA256 with the stored console secret) and, when the console is served
 * over HTTPS, Secure with the `__Host-` prefix; it never holds the admin
 * token. Every console request reads the cookie, checks the signature and
 * finds the session's row, so signing out ends it everywhere at once.
 *
 * A state-changing request (every POST) must come from this origin (`Origin`,
 * else `Sec-Fetch-Site`), and, once signed in, carry the session's CSRF token
 * (a form's `_csrf` field or an `X-CSRF-Token` header): an HMAC of the
 * session id, so nothing more is stored and another session's token is
 * useless. A viewer's POSTs are refused (403) whatever they ask.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import type { Context as HonoContext } from "hono"
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie"
import { createMiddleware } from "hono/factory"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { ServerSecrets } from "../../infra/callbacks/ServerSecrets.ts"
import { Operators, type Session } from "../../infra/console/Operators.ts"
import { attempt, type HttpEnv } from "../http/Handler.ts"
import type { ConsoleSettings } from "./ConsoleConfig.ts"

/** A console request's context: the HTTP layer's, and the session (absent before sign-in). */
export interface ConsoleEnv {
  Variables: HttpEnv["Variables"] & { readonly session: Session | undefined; readonly csrf: string | undefined }
}

export type ConsoleContext = HonoContext<ConsoleEnv>

/** The HTTP layer's view of a console context (the same object: only its variables are fewer). */
export const asHttp = (c: ConsoleContext): HonoContext<HttpEnv> => c as unknown as HonoContext<HttpEnv>

const COOKIE = "switchboard_session"

const secretOf = (c: ConsoleContext) => attempt(asHttp(c), Effect.map(Effect.flatMap(ServerSecrets, (s) => s.consoleSecret), Redacted.value))

/** Whether the console is served over HTTPS, as the browser sees it. */
const secure = (c: ConsoleContext, settings: ConsoleSettings): boolean => settings.httpsOrigin || new URL(c.req.url).protocol === "https:"

const cookieOptions = (c: ConsoleContext, settings: ConsoleSettings) =>
  secure(c, settings)
    ? ({ path: "/", httpOnly: true, secure: true, sameSite: "Strict", prefix: "host" } as const)
    : ({ path: "/", httpOnly: true, sameSite: "Strict" } as const)

const cookieName = (c: ConsoleContext, settings: ConsoleSettings): string => (secure(c, settings) ? `__Host-${COOKIE}` : COOKIE)

/** The CSRF token of a session: an HMAC of its id under the console secret. */
const csrfOf = (secret: string, sessionId: string): string => createHmac("sha256", secret).update(`csrf:${sessionId}`).digest("base64url")

/** Sets the session's cookie, to last as long as the session. */
export const startSession = async (c: ConsoleContext, settings: ConsoleSettings, session: Session): Promise<Response | undefined> => {
  const secret = await secretOf(c)
  if ("response" in secret) return secret.response
  const maxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000))
  await setSignedCookie(c, COOKIE, session.id, secret.value, { ...cookieOptions(c, settings), maxAge })
  return undefined
}

/** Clears the cookie. */
export const endSession = (c: ConsoleContext, settings: ConsoleSettings): void => {
  deleteCookie(c, cookieName(c, settings), cookieOptions(c, settings))
}

/** Reads the cookie and finds its session: `session` and `csrf` are set, or both absent. */
export const loadSession = (settings: ConsoleSettings) =>
  createMiddleware<ConsoleEnv>(async (c, next) => {
    c.set("session", undefined)
    c.set("csrf", undefined)
    const secret = await secretOf(c)
    if ("response" in secret) return secret.response
    const id = await getSignedCookie(c, secret.value, COOKIE, secure(c, settings) ? "host" : undefined)
    if (typeof id === "string" && id.length > 0) {
      const found = await attempt(asHttp(c), Effect.flatMap(Operators, (operators) => operators.find(id)))
      if ("response" in found) return found.response
      if (Option.isSome(found.value)) {
        c.set("session", found.value.value)
        c.set("csrf", csrfOf(secret.value, id))
      }
    }
    await next()
  })

/** Whether a state-changing request comes from this origin (a page of this console, not another site's form). */
export const sameOrigin = (c: ConsoleContext): boolean => {
  const origin = c.req.header("origin")
  if (origin !== undefined) return origin === new URL(c.req.url).origin || origin === forwardedOrigin(c)
  const site = c.req.header("sec-fetch-site")
  return site === undefined || site === "same-origin" || site === "none"
}

/** The origin the browser used when a proxy terminates TLS in front (X-Forwarded-Proto and Host). */
const forwardedOrigin = (c: ConsoleContext): string | undefined => {
  const proto = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim()
  const host = c.req.header("host")
  return proto === undefined || host === undefined ? undefined : `${proto}://${host}`
}

/** Whether `given` is the session's CSRF token. */
export const csrfMatches = (c: ConsoleContext, given: string | undefined): boolean => {
  const expected = c.get("csrf")
  if (expected === undefined || given === undefined) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}
