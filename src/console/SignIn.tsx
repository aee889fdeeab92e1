/**
 * Signing in and out of the console. The form takes an account's name and
 * password, or, with the name left empty, the admin token; either opens a
 * session (Session.ts) and never stores the token. Attempts are limited per
 * client address and per name (CONSOLE_SIGN_IN_LIMIT in 15 minutes, counted in
 * Postgres so every process shares the count); a successful one takes its own
 * count back. Every attempt is audited, with the name it gave.
 */
import { randomUUID } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { type Operator, TOKEN_OPERATOR } from "../../domain/console/Operator.ts"
import { hit, release } from "../../infra/callbacks/RateLimiter.ts"
import { Operators } from "../../infra/console/Operators.ts"
import { attempt } from "../http/Handler.ts"
import { matchesToken } from "../http/Tokens.ts"
import { clientOf } from "../http/ClientAddress.ts"
import { audit, backTo, Bare, type ConsoleRoutes, html } from "./ConsoleRouter.tsx"
import { asHttp, type ConsoleContext, csrfMatches, endSession, loadSession, sameOrigin, startSession } from "./Session.ts"

const SignInForm = Schema.Struct({
  name: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(200)), { default: () => "" }),
  password: Schema.String.pipe(Schema.maxLength(1024)),
  next: Schema.optional(Schema.String.pipe(Schema.maxLength(2048)))
})

const Form = ({ next, name, error }: { next: string; name?: string | undefined; error?: string | undefined }) => (
  <Bare title="Sign in to Switchboard">
    {error === undefined ? null : (
      <p class="error" role="alert" id="sign-in-error">
        {error}
      </p>
    )}
    <form method="post" action="/admin/sign-in">
      <input type="hidden" name="next" value={next} />
      <label for="name">Account</label>
      <input id="name" name="name" autocomplete="username" value={name ?? ""} aria-describedby="name-hint" />
      <p class="hint" id="name-hint">
        Leave empty to sign in with the admin token.
      </p>
      <label for="password">Password or admin token</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required aria-invalid={error === undefined ? undefined : "true"} />
      <button type="submit">Sign in</button>
    </form>
  </Bare>
)

export const signInRoutes = (routes: ConsoleRoutes, adminToken: Redacted.Redacted<string>) => {
  const { router, settings } = routes
  const isAdminToken = matchesToken(adminToken)
  const limit = { limit: settings.signInLimit, window: settings.signInWindow }

  router.get("/admin/sign-in", loadSession(settings), (c) => {
    const next = backTo(c.req.query("next"), "/admin")
    if (c.get("session") !== undefined) return c.redirect(next, 303)
    return html(c, <Form next={next} />)
  })

  /** The operator these credentials name, or none. */
  const authenticate = (name: string, password: string): Effect.Effect<Option.Option<Operator>, unknown, Operators> =>
    name === ""
      ? Effect.succeed(isAdminToken(password) ? Option.some({ name: TOKEN_OPERATOR, role: "admin" as const }) : Option.none())
      : Effect.flatMap(Operators, (operators) => operators.authenticate(name, password))

  router.post("/admin/sign-in", async (c: ConsoleContext) => {
    if (!sameOrigin(c)) return html(c, <Form next="/admin" error="This sign-in came from a page of another site." />, 403)
    const raw = await c.req.parseBody().catch(() => ({}))
    const decoded = Schema.decodeUnknownOption(SignInForm)(raw)
    if (Option.isNone(decoded)) return html(c, <Form next="/admin" error="Give an account and a password, or the admin token." />, 400)
    const { name, password } = decoded.value
    const next = backTo(decoded.value.next, "/admin")
    const ref = randomUUID()
    const outcome = await attempt(
      asHttp(c),
      Effect.gen(function* () {
        const ip = yield* clientOf(asHttp(c))
        for (const bucket of [`console-sign-in:ip:${ip}`, `console-sign-in:name:${name.trim().toLowerCase()}`]) {
          const decision = yield* hit(bucket, limit, ref)
          if (!decision.allowed) {
            yield* audit(c, { action: "signIn", outcome: "refused", detail: { reason: "rate limited" } }, { name: name === "" ? TOKEN_OPERATOR : name, role: undefined })
            return { _tag: "Limited", retryAfter: Math.max(1, Math.ceil(Duration.toSeconds(decision.retryAfter))) } as const
          }
        }
        const operator = yield* authenticate(name.trim().toLowerCase(), password)
        if (Option.isNone(operator)) {
          yield* audit(c, { action: "signIn", outcome: "refused", detail: { reason: "wrong name or password" } }, { name: name === "" ? TOKEN_OPERATOR : name, role: undefined })
          return { _tag: "Refused" } as const
        }
        yield* release(ref)
        const session = yield* Effect.flatMap(Operators, (operators) => operators.open(operator.value, settings.sessionTtl, { ip, userAgent: c.req.header("user-agent") }))
        yield* audit(c, { action: "signIn" }, { name: session.name, role: session.role })
        return { _tag: "Opened", session } as const
      })
    )
    if ("response" in outcome) return outcome.response
    switch (outcome.value._tag) {
      case "Limited":
        return html(c, <Form next={next} name={name} error={`Too many sign-in attempts; try again in ${outcome.value.retryAfter} s.`} />, 429, {
          "Retry-After": String(outcome.value.retryAfter)
        })
      case "Refused":
        return html(c, <Form next={next} name={name} error="That account and password (or admin token) did not match." />, 401)
      case "Opened": {
        const refused = await startSession(c, settings, outcome.value.session)
        return refused ?? c.redirect(next, 303)
      }
    }
  })

  router.post("/admin/sign-out", loadSession(settings), async (c) => {
    const session = c.get("session")
    const raw = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
    const token = typeof raw["_csrf"] === "string" ? raw["_csrf"] : undefined
    if (session !== undefined && sameOrigin(c) && csrfMatches(c, token)) {
      const closed = await attempt(
        asHttp(c),
        Effect.zipRight(
          Effect.flatMap(Operators, (operators) => operators.close(session.id)),
          audit(c, { action: "signOut" })
        )
      )
      if ("response" in closed) return closed.response
    }
    endSession(c, settings)
    return c.redirect("/admin/sign-in", 303)
  })
}
