/**
 * The audit trail of operator actions taken through the admin API: every
 * request under `/admin/api` that may change something (any method but GET
 * and HEAD) leaves one row (infra/console/AuditLog.ts) once it is answered,
 * named by its operation id (`retryJob`, `pauseQueue`) and its target
 * (`job:42`, `queue:dial`), with its outcome from the status: `ok` (2xx),
 * `refused` (4xx: nothing was changed) or `failed` (5xx). The console's
 * actions use the same names (src/console/ConsoleRouter.tsx), so one filter
 * finds an action whichever way it was taken.
 */
import type { Context as HonoContext } from "hono"
import { createMiddleware } from "hono/factory"
import { routePath } from "hono/route"
import * as Effect from "effect/Effect"
import { TOKEN_OPERATOR } from "../../domain/console/Operator.ts"
import { type Actor, AuditLog } from "../../infra/console/AuditLog.ts"
import { type AnyRoute, honoPath } from "./Contract.ts"
import { attempt, type HttpEnv } from "./Handler.ts"
import { clientOf } from "./ClientAddress.ts"

/** `/admin/api/jobs/{id}/retry` with `{ id: "42" }` -> `job:42`: the resource the path names first, and its first parameter. */
export const targetOf = (path: string, params: Readonly<Record<string, string>>): string | undefined => {
  const match = /^\/admin\/api\/([a-z-]+)\/\{([A-Za-z]+)\}/.exec(path)
  if (match === null) return undefined
  const [, plural = "", param = ""] = match
  const noun = /(ss|sh|ch|x)es$/.test(plural) ? plural.slice(0, -2) : plural.replace(/s$/, "")
  const value = params[param]
  return value === undefined ? undefined : `${noun}:${value}`
}

/** The outcome an answer's status means. */
export const outcomeOf = (status: number): "ok" | "refused" | "failed" => (status < 400 ? "ok" : status < 500 ? "refused" : "failed")

/** The operator behind an admin API request: the admin token's, from the client's address. */
const actorOf = (c: HonoContext<HttpEnv>) =>
  Effect.map(clientOf(c), (ip): Actor => ({ name: TOKEN_OPERATOR, role: "admin", via: "api", ip, userAgent: c.req.header("user-agent") }))

/** Records the admin API's changes (see the module's comment); `routes` is the route table. */
export const auditChanges = (routes: ReadonlyArray<AnyRoute>) => {
  const byPattern = new Map(routes.map((route) => [`${route.method.toUpperCase()} ${honoPath(route.path)}`, route]))
  return createMiddleware<HttpEnv>(async (c, next) => {
    await next()
    if (c.req.method === "GET" || c.req.method === "HEAD" || c.res.status === 401) return // without the token, nobody acted
    const route = byPattern.get(`${c.req.method} ${routePath(c, -1)}`)
    if (route === undefined) return
    const recorded = await attempt(
      c,
      Effect.flatMap(actorOf(c), (actor) =>
        Effect.flatMap(AuditLog, (log) =>
          log.record(actor, { action: route.operationId, target: targetOf(route.path, c.req.param() as Record<string, string>), outcome: outcomeOf(c.res.status), detail: { status: c.res.status } })
        )
      )
    )
    if ("response" in recorded) c.res.headers.set("Warning", '199 - "the action was not recorded in the audit trail"')
  })
}
