/**
 * `/livez`, `/readyz`, `/healthz`, `/metrics`, `/openapi.json` and
 * `/problems/{slug}`. The OpenAPI document is generated once, when the routes
 * are made, from the whole route table (contract/index.ts).
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type { Metrics } from "../../../infra/observability/Metrics.ts"
import { allRoutes } from "../contract/index.ts"
import { health, HealthView, liveness, metrics as metricsRoute, openApi, OpenApiDocumentView, ProbeOk, problemType, ProblemTypeView, readiness } from "../contract/Operations.ts"
import type { HttpEnv } from "../Handler.ts"
import type { Check, Health } from "../Health.ts"
import { bearer } from "../Middleware.ts"
import { makeDocument } from "../OpenApi.ts"
import { Catalogue, NotFound, type Slug, Unavailable } from "../Problems.ts"
import { implement, reply } from "../Validate.ts"

export interface OperationsDeps {
  readonly health: Health
  readonly metrics: Metrics
  readonly metricsToken: Option.Option<Redacted.Redacted<string>>
  /** The base URL the OpenAPI document names as its server: PUBLIC_BASE_URL, or `/`. */
  readonly serverUrl: string
}

/** 200 `{ status: "ok" }`, or a 503 problem that names each failing check. */
const verdict = (what: string, checks: Record<string, Check>) => {
  const failing = Object.entries(checks).filter(([, check]) => check.status === "failing")
  if (failing.length === 0) return reply(ProbeOk, { status: "ok" as const })
  const detail = `${what}: ${failing.map(([name, check]) => `${name} (${check.detail ?? "failing"})`).join("; ")}`
  return Effect.fail(new Unavailable({ detail, extra: { checks } }))
}

const isSlug = (slug: string): slug is Slug => Object.hasOwn(Catalogue, slug)

export const operationsRoutes = ({ health: probes, metrics, metricsToken, serverUrl }: OperationsDeps) => {
  const router = new Hono<HttpEnv>()
  // made on the first request, not at start-up: most processes (every worker) are never asked for it
  let document: Record<string, unknown> | undefined
  const documentOnce = () => (document ??= makeDocument(allRoutes, { serverUrl }))

  implement(router, liveness, () => Effect.flatMap(probes.actors, (actors) => verdict("not live", { actors })))

  implement(router, readiness, () =>
    Effect.flatMap(Effect.all([probes.draining, probes.database]), ([draining, { database, migrations }]) => verdict("not ready", { draining, database, migrations }))
  )

  implement(router, health, () =>
    Effect.flatMap(Effect.all([probes.actors, probes.database, probes.draining, probes.twilio]), ([actors, { database, migrations }, draining, twilio]) => {
      const checks = { database, migrations, actors, draining, twilio }
      const ok = Object.values(checks).every((check) => check.status !== "failing")
      return reply(HealthView, { status: ok ? ("ok" as const) : ("failing" as const), checks }, ok ? 200 : 503)
    })
  )

  implement(
    router,
    metricsRoute,
    () =>
      // readiness as /readyz would answer it now, and the database's part of it
      Effect.all([probes.draining, probes.database]).pipe(
        Effect.tap(([draining, { database, migrations }]) =>
          Effect.sync(() => {
            metrics.databaseUp.set(database.status === "failing" ? 0 : 1)
            metrics.ready.set([draining, database, migrations].some((check) => check.status === "failing") ? 0 : 1)
          })
        ),
        Effect.zipRight(metrics.scrape),
        Effect.map((text) => new Response(text, { status: 200, headers: { "Content-Type": metrics.contentType } }))
      ),
    Option.isSome(metricsToken) ? [bearer(metricsToken.value, "/metrics")] : []
  )

  implement(router, openApi, () => Effect.suspend(() => reply(OpenApiDocumentView, documentOnce())))

  implement(router, problemType, ({ params }) => {
    const slug = params.slug
    if (!isSlug(slug)) return Effect.fail(new NotFound({ detail: `no problem type named ${slug}` }))
    const entry = Catalogue[slug]
    return reply(ProblemTypeView, { type: `/problems/${slug}`, title: entry.title, status: entry.status, description: entry.description })
  })

  return router
}
