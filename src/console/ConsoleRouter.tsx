/**
 * How a console route is declared: `page` for what an operator reads (signed
 * in, any role) and `action` for what changes something (signed in as admin,
 * from this origin, with the session's CSRF token). Both decode their input
 * through a schema (the query of a page, the form of an action) with the same
 * decoder as the API (Validate.ts), run one Effect under the request's span,
 * and answer HTML: a failure is a page that says what went wrong, with the
 * status (and `Retry-After`) the API would have answered. Every action,
 * carried out or refused, is written to the audit trail with who, what, on
 * what and from where.
 */
import type { Hono } from "hono"
import type { Child } from "hono/jsx"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import { type Action as AuditAction, type Actor, AuditLog } from "../../infra/console/AuditLog.ts"
import type { FieldError } from "../Failures.ts"
import type { AnyRoute, Wire } from "../http/Contract.ts"
import { outcomeOf, targetOf } from "../http/Audited.ts"
import { Catalogue, problemOf } from "../http/Problems.ts"
import { attempt, type HttpServices } from "../http/Handler.ts"
import { clientOf } from "../http/ClientAddress.ts"
import { decodeAll } from "../http/Validate.ts"
import { CONSOLE_CSP } from "./Assets.ts"
import { Head, type PageContext } from "./Components.tsx"
import type { ConsoleSettings } from "./ConsoleConfig.ts"
import { asHttp, type ConsoleContext, type ConsoleEnv, csrfMatches, loadSession, sameOrigin } from "./Session.ts"

/** Headers of every console response. */
export const consoleHeaders = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store"
} as const

/** A bare page (sign-in, errors): no navigation, no session needed. */
export const Bare = ({ title, children }: { title: string; children: Child }) => (
  <html lang="en">
    <Head title={title} />
    <body>
      <main id="main" class="signin">
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
)

export const html = (c: ConsoleContext, body: Child, status = 200, headers: Readonly<Record<string, string>> = {}): Response =>
  c.html(String(body), status as 200, { ...consoleHeaders, ...headers })

/** The page for a problem response of the HTTP layer: its status and Retry-After, its title and detail as text. */
interface Failure {
  readonly title: string
  readonly detail?: string | undefined
  readonly errors?: ReadonlyArray<FieldError> | undefined
  readonly retryAfter?: string | undefined
  readonly requestId?: string | undefined
  /** Where to go from here: the overview unless given. */
  readonly back?: { readonly href: string; readonly label: string } | undefined
}

/** A page that says what went wrong, with the status (and Retry-After) the API would have answered. */
const failurePage = (c: ConsoleContext, status: number, failure: Failure): Response =>
  html(
    c,
    <Bare title={failure.title}>
      {failure.detail === undefined ? null : (
        <p class="error" role="alert">
          {failure.detail}
        </p>
      )}
      {failure.errors === undefined ? null : (
        <ul class={failure.detail === undefined ? "error" : undefined} role={failure.detail === undefined ? "alert" : undefined}>
          {failure.errors.map((e) => (
            <li>{`${e.path === "" ? e.in : e.path.slice(1)}: ${e.message}`}</li>
          ))}
        </ul>
      )}
      {failure.retryAfter === undefined ? null : <p>{`Try again in ${failure.retryAfter} s.`}</p>}
      {failure.requestId === undefined ? null : <p class="hint">{`Request id: ${failure.requestId}`}</p>}
      <p>
        <a href={failure.back?.href ?? "/admin"}>{failure.back?.label ?? "Back to the overview"}</a>
      </p>
    </Bare>,
    status,
    failure.retryAfter === undefined ? {} : { "Retry-After": failure.retryAfter }
  )

/** The page for a problem response of the HTTP layer. */
const problemPage = async (c: ConsoleContext, problem: Response): Promise<Response> => {
  const body = (await problem.json().catch(() => ({}))) as { title?: string; detail?: string; requestId?: string; errors?: ReadonlyArray<FieldError> }
  return failurePage(c, problem.status, {
    title: body.title ?? "Something went wrong",
    detail: body.detail ?? "The request failed.",
    errors: body.errors,
    retryAfter: problem.headers.get("retry-after") ?? undefined,
    requestId: body.requestId
  })
}

/** A path of this console to come back to (`back`), or the fallback: never another site. */
export const backTo = (back: string | undefined, fallback: string): string =>
  back !== undefined && /^\/admin(?:[/?#]|$)/.test(back) && !back.startsWith("//") ? back : fallback

/** `path` with `notice` set in its query. */
const withNotice = (path: string, notice: string): string => {
  const url = new URL(path, "http://console.invalid")
  url.searchParams.set("notice", notice)
  return url.pathname + url.search
}

/** Who is acting, from where. */
const actorOf = (c: ConsoleContext): Effect.Effect<Actor, never, CallbackConfig> =>
  Effect.map(clientOf(asHttp(c)), (ip) => ({
    name: c.get("session")?.name ?? "anonymous",
    role: c.get("session")?.role,
    via: "console" as const,
    ip,
    userAgent: c.req.header("user-agent")
  }))

/** Writes one audit row (for the sign-in, which has no session yet, the actor is given). */
export const audit = (c: ConsoleContext, action: AuditAction, actor?: Partial<Actor>) =>
  Effect.flatMap(actorOf(c), (who) => Effect.flatMap(AuditLog, (log) => log.record({ ...who, ...actor }, action)))

export interface ConsoleRoutes {
  readonly router: Hono<ConsoleEnv>
  readonly settings: ConsoleSettings
}

const decodeOr = <A,>(schema: Wire<A> | undefined, input: unknown, where: "query" | "body"): Either.Either<A, ReadonlyArray<FieldError>> =>
  schema === undefined ? Either.right(input as A) : decodeAll(schema, input, where, "ignore")

const validationPage = (c: ConsoleContext, errors: ReadonlyArray<FieldError>): Response =>
  failurePage(c, 400, { title: "Some values are not valid", errors, back: { href: c.req.path, label: "Start again" } })

/** `GET path`: a page for a signed-in operator; without a session, the sign-in form (and back here after). */
export const page = <Q,>(
  { router, settings }: ConsoleRoutes,
  path: string,
  query: Wire<Q> | undefined,
  view: (input: { readonly query: Q; readonly page: PageContext }, c: ConsoleContext) => Effect.Effect<Child, unknown, HttpServices>
): void => {
  router.get(path, loadSession(settings), async (c) => {
    const session = c.get("session")
    const csrf = c.get("csrf")
    const url = new URL(c.req.url)
    if (session === undefined || csrf === undefined) return c.redirect(`/admin/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, 303)
    // a filter form sends its empty fields too: an empty field is no filter
    const decoded = decodeOr(query, Object.fromEntries(Object.entries(c.req.query()).filter(([name, value]) => value !== "" && name !== "notice")), "query")
    if (Either.isLeft(decoded)) return validationPage(c, decoded.left)
    const notice = c.req.query("notice")
    const params = new URLSearchParams(url.search)
    params.delete("notice")
    const here = url.pathname + (params.size === 0 ? "" : `?${params.toString()}`)
    const out = await attempt(asHttp(c), view({ query: decoded.right, page: { session, csrf, here, notice } }, c))
    return "response" in out ? problemPage(c, out.response) : html(c, out.value)
  })
}

/** What an action gets: its decoded form, the path's parameters, and the page it was sent from (to draw a page in reply). */
export interface ActionInput<F> {
  readonly form: F
  readonly params: Readonly<Record<string, string>>
  readonly page: PageContext
}

/** What an action did: a notice for the page the browser goes back to (or `to`), or a page to show in reply (a secret shown once). */
export interface ActionDone {
  readonly notice: string
  readonly detail?: Readonly<Record<string, unknown>>
  readonly to?: string
  /** Shown instead of going back: what must be seen once and never again (a key, a secret), so never put in a URL. */
  readonly show?: Child
}

/** The form again, as it was sent, with what is wrong with it. */
export interface Retry {
  readonly fields: Readonly<Record<string, string>>
  readonly errors: ReadonlyArray<FieldError>
  readonly params: Readonly<Record<string, string>>
  readonly page: PageContext
}

export interface ActionSpec<F> {
  /** The admin API operation this action is: the audit trail names it by its operation id and target, as the API's own requests. */
  readonly route: AnyRoute
  /** The form's schema (beyond `_csrf` and `back`, which every action takes). */
  readonly form?: Wire<F> | undefined
  /**
   * For a form worth keeping (a business's settings): when its values are not valid, by the form's schema or
   * by the use case's (a `ValidationFailed`), the form is drawn again with what was sent and each error at its
   * field, instead of a page that only lists them.
   */
  readonly retry?: ((retry: Retry, c: ConsoleContext) => Effect.Effect<Child, unknown, HttpServices>) | undefined
}

/**
 * `POST path`: an admin's change. Refused with 401 without a session, 403 from another origin, without the
 * session's CSRF token or for a viewer (audited as refused); otherwise `act` runs, its outcome is audited, and
 * the browser goes back to the page it came from with `act`'s notice (303).
 */
export const action = <F,>(
  { router, settings }: ConsoleRoutes,
  path: string,
  spec: ActionSpec<F>,
  act: (input: ActionInput<F>, c: ConsoleContext) => Effect.Effect<ActionDone, unknown, HttpServices>
): void => {
  router.post(path, loadSession(settings), async (c) => {
    const session = c.get("session")
    const csrf = c.get("csrf")
    if (!sameOrigin(c)) return failurePage(c, 403, { title: "Refused", detail: "This change came from a page of another site; nothing was changed." })
    if (session === undefined) return failurePage(c, 401, { title: "Signed out", detail: "Your session has ended; sign in again. Nothing was changed." })
    const raw = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
    const fields: Record<string, string> = {}
    for (const [name, value] of Object.entries(raw)) if (typeof value === "string") fields[name] = value
    const params = c.req.param() as Record<string, string>
    const decoded = decodeOr(spec.form, fields, "body")
    const what = { action: spec.route.operationId, target: targetOf(spec.route.path, params) }
    const refuse = async (status: number, title: string, detail: string) => {
      await attempt(asHttp(c), audit(c, { ...what, outcome: "refused", detail: { reason: detail } }))
      return failurePage(c, status, { title, detail })
    }
    if (!csrfMatches(c, fields["_csrf"] ?? c.req.header("x-csrf-token"))) return refuse(403, "Refused", "The form's security token is missing or out of date; reload the page and try again. Nothing was changed.")
    if (session.role !== "admin" || csrf === undefined) return refuse(403, "Read-only", "Your account is read-only: it can see everything and change nothing.")
    const context: PageContext = { session, csrf, here: backTo(fields["back"], c.req.path) }
    const retry = async (errors: ReadonlyArray<FieldError>): Promise<Response> => {
      if (spec.retry === undefined) return validationPage(c, errors)
      const drawn = await attempt(asHttp(c), spec.retry({ fields, errors, params, page: context }, c))
      return "response" in drawn ? problemPage(c, drawn.response) : html(c, drawn.value, 400)
    }
    if (Either.isLeft(decoded)) {
      await attempt(asHttp(c), audit(c, { ...what, outcome: "refused", detail: { problem: "validation", errors: decoded.left.map((e) => e.path) } }))
      return retry(decoded.left)
    }
    const outcome = await attempt(
      asHttp(c),
      act({ form: decoded.right, params, page: context }, c).pipe(
        Effect.tap((done) => audit(c, { ...what, detail: done.detail })),
        // as the API's requests are: refused when nothing could change (a 4xx), failed otherwise
        Effect.tapError((error) => {
          const problem = problemOf(error)
          return audit(c, { ...what, outcome: outcomeOf(Catalogue[problem.slug].status), detail: { problem: problem.slug, error: problem.detail } }).pipe(Effect.ignore)
        })
      )
    )
    if ("response" in outcome) {
      const problem = (await outcome.response.clone().json().catch(() => ({}))) as { type?: string; errors?: ReadonlyArray<FieldError> }
      return spec.retry !== undefined && problem.type === "/problems/validation" && problem.errors !== undefined ? retry(problem.errors) : problemPage(c, outcome.response)
    }
    if (outcome.value.show !== undefined) return html(c, outcome.value.show)
    return c.redirect(withNotice(outcome.value.to ?? backTo(fields["back"], "/admin"), outcome.value.notice), 303)
  })
}
