/**
 * The operator console (docs/console.md): server-rendered pages under
 * `/admin`, signed in with a session (Session.ts), next to the JSON admin API
 * under `/admin/api` (bearer token) which it does not replace. Its routes are a
 * user interface, not part of the API's contract: they are not in the OpenAPI
 * document, but decode their queries and forms through the same schemas.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { parseCursor } from "../../infra/callbacks/HistoryStore.ts"
import type { CronDefinition } from "../../domain/jobs/CronDefinition.ts"
import type { JobDefinition } from "../../domain/jobs/JobDefinition.ts"
import { LiveEvents } from "../callbacks/LiveEvents.ts"
import { engineAdmin } from "../jobs/EngineAdmin.ts"
import { attempt } from "../http/Handler.ts"
import { ASSETS } from "./Assets.ts"
import type { ConsoleSettings } from "./ConsoleConfig.ts"
import type { ConsoleRoutes } from "./ConsoleRouter.tsx"
import { auditPages } from "./pages/Audit.tsx"
import { bulkPages } from "./pages/Bulk.tsx"
import { businessPages } from "./pages/Businesses.tsx"
import { callbackPages } from "./pages/Callbacks.tsx"
import { enginePages } from "./pages/Engine.tsx"
import { jobPages } from "./pages/Jobs.tsx"
import { overviewPage } from "./pages/Overview.tsx"
import { asHttp, type ConsoleEnv, loadSession } from "./Session.ts"
import { signInRoutes } from "./SignIn.tsx"

/** Whether `path` is the console's (a page, a form's target, its assets, its stream), not the JSON admin API's. */
export const isConsolePath = (path: string): boolean => (path === "/admin" || path.startsWith("/admin/")) && !path.startsWith("/admin/api/")

export interface ConsoleOptions {
  readonly settings: ConsoleSettings
  readonly adminToken: Redacted.Redacted<string>
  /** The job kinds and schedules this deployment runs. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions of different argument types share one list
  readonly definitions: ReadonlyArray<JobDefinition<any, any>>
  readonly crons: ReadonlyArray<CronDefinition>
}

export const consoleRoutes = (options: ConsoleOptions): Hono<ConsoleEnv> => {
  const router = new Hono<ConsoleEnv>()
  const routes: ConsoleRoutes = { router, settings: options.settings }

  for (const asset of Object.values(ASSETS)) {
    router.get(asset.path, (c) => c.body(asset.body, 200, { "Content-Type": asset.type, "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" }))
  }

  signInRoutes(routes, options.adminToken)
  callbackPages(routes)
  const engine = engineAdmin(options.definitions, options.crons)
  overviewPage(routes, engine)
  bulkPages(routes) // before the jobs' pages: /admin/jobs/bulk is not a job's id
  jobPages(routes, engine, options.definitions.map((d) => ({ kind: d.kind, queue: d.queue })))
  enginePages(routes, engine)
  businessPages(routes)
  auditPages(routes)

  /** The operators' event stream for this session: the page's script follows it to stay live. */
  router.get("/admin/live", loadSession(options.settings), async (c) => {
    if (c.get("session") === undefined) return c.text("sign in first", 401)
    const last = c.req.header("last-event-id")
    const out = await attempt(
      asHttp(c),
      Effect.flatMap(LiveEvents, (live) => live.operator(undefined, last === undefined ? undefined : parseCursor(last)))
    )
    return "response" in out ? out.response : out.value
  })

  return router
}
