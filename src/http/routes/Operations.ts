/** `/livez`, `/readyz`, `/healthz`, `/metrics`, `/openapi.json` and `/problems/{slug}`. */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type { Metrics } from "../../../infra/observability/Metrics.ts"
import { type HttpEnv, json, run } from "../Handler.ts"
import type { Check, Health } from "../Health.ts"
import { bearer } from "../Middleware.ts"
import { openApiDocument } from "../OpenApi.ts"
import { Catalogue, NotFound, Unavailable } from "../Problems.ts"
import { OperationPaths } from "../ServerConfig.ts"

export interface OperationsDeps {
  readonly health: Health
  readonly metrics: Metrics
  readonly metricsToken: Option.Option<Redacted.Redacted<string>>
}

/** 200 `{ status: "ok" }`, or a 503 problem that names each failing check. */
const verdict = (what: string, checks: Record<string, Check>): Effect.Effect<Response, Unavailable> => {
  const failing = Object.entries(checks).filter(([, check]) => check.status === "failing")
  if (failing.length === 0) return Effect.succeed(json({ status: "ok" }))
  const detail = `${what}: ${failing.map(([name, check]) => `${name} (${check.detail ?? "failing"})`).join("; ")}`
  return Effect.fail(new Unavailable({ detail, extra: { checks } }))
}

export const operationsRoutes = ({ health, metrics, metricsToken }: OperationsDeps) => {
  const router = new Hono<HttpEnv>()

  router.get(OperationPaths.liveness, (c) =>
    run(c, Effect.flatMap(health.actors, (actors) => verdict("not live", { actors })))
  )

  router.get(OperationPaths.readiness, (c) =>
    run(
      c,
      Effect.flatMap(Effect.all([health.draining, health.database]), ([draining, { database, migrations }]) =>
        verdict("not ready", { draining, database, migrations })
      )
    )
  )

  router.get(OperationPaths.health, (c) =>
    run(
      c,
      Effect.map(Effect.all([health.actors, health.database, health.draining, health.twilio]), ([actors, { database, migrations }, draining, twilio]) => {
        const checks: Record<string, Check> = { database, migrations, actors, draining, twilio }
        const ok = Object.values(checks).every((check) => check.status !== "failing")
        return json({ status: ok ? "ok" : "failing", checks }, ok ? 200 : 503)
      })
    )
  )

  if (Option.isSome(metricsToken)) router.use(OperationPaths.metrics, bearer(metricsToken.value, "/metrics"))
  router.get(OperationPaths.metrics, (c) =>
    run(c, Effect.map(metrics.scrape, (text) => new Response(text, { status: 200, headers: { "Content-Type": metrics.contentType } })))
  )

  router.get(OperationPaths.openapi, (c) => run(c, Effect.succeed(json(openApiDocument))))

  router.get("/problems/:slug", (c) =>
    run(
      c,
      Effect.suspend(() => {
        const slug = c.req.param("slug")
        if (!Object.hasOwn(Catalogue, slug)) return Effect.fail(new NotFound({ detail: `no problem type named ${slug}` }))
        const entry = Catalogue[slug as keyof typeof Catalogue]
        return Effect.succeed(json({ type: `/problems/${slug}`, title: entry.title, status: entry.status, description: entry.description }))
      })
    )
  )

  return router
}
