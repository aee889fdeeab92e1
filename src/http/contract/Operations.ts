/**
 * The operations routes (API.md "Operations"): the probes, the Prometheus
 * scrape, this API's OpenAPI document and the explanation of each problem
 * type. Their paths are the ones deploy manifests rely on (ServerConfig.ts).
 */
import * as Schema from "effect/Schema"
import { route } from "../Contract.ts"
import { Catalogue, type Slug } from "../Problems.ts"
import { OperationPaths } from "../ServerConfig.ts"

/** One check of a probe (src/http/Health.ts `Check`). */
export const CheckView = Schema.Struct({
  status: Schema.Literal("ok", "failing", "not_configured"),
  detail: Schema.optional(Schema.String.annotations({ description: "what failed, or which Twilio this process uses" }))
}).annotations({ identifier: "Check" })

/** A probe that passes. */
export const ProbeOk = Schema.Struct({ status: Schema.Literal("ok") }).annotations({ identifier: "ProbeOk" })

export const HealthView = Schema.Struct({
  status: Schema.Literal("ok", "failing"),
  checks: Schema.Struct({ database: CheckView, migrations: CheckView, actors: CheckView, draining: CheckView, twilio: CheckView })
}).annotations({ identifier: "Health", description: "every check; `failing` (and a 503) when any check fails" })

const slugs = Object.keys(Catalogue) as Array<Slug>

/** What `GET /problems/{slug}` says about a problem type. */
export const ProblemTypeView = Schema.Struct({
  type: Schema.Literal(...(slugs.map((slug) => `/problems/${slug}`) as [string, ...Array<string>])).annotations({ description: "every problem type this API answers with" }),
  title: Schema.String,
  status: Schema.Int.annotations({ description: "the HTTP status of the responses that carry it" }),
  description: Schema.String
}).annotations({ identifier: "ProblemType" })

export const SlugParams = Schema.Struct({ slug: Schema.String.annotations({ description: `a problem type's slug: ${slugs.join(", ")}` }) })

/** The OpenAPI document itself: generated, so described by its own specification. */
export const OpenApiDocumentView = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  identifier: "OpenApiDocument",
  description: "an OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)"
})

const tags = ["operations"]

export const liveness = route({
  method: "get",
  path: OperationPaths.liveness,
  operationId: "liveness",
  summary: "Whether the process and its supervised actors are alive (never touches the database).",
  tags,
  responses: { 200: { description: "Alive", schema: ProbeOk } },
  problems: ["unavailable"]
})

export const readiness = route({
  method: "get",
  path: OperationPaths.readiness,
  operationId: "readiness",
  summary: "Whether the database answers, migrations are current and the process is not draining.",
  description: "A 503 problem names each failing check and carries them as `checks`.",
  tags,
  responses: { 200: { description: "Ready", schema: ProbeOk } },
  problems: ["unavailable"]
})

export const health = route({
  method: "get",
  path: OperationPaths.health,
  operationId: "health",
  summary: "Every check: database, migrations, actors, draining, Twilio.",
  tags,
  responses: {
    200: { description: "Every check passes", schema: HealthView },
    503: { description: "A check is failing", schema: HealthView }
  },
  problems: []
})

export const metrics = route({
  method: "get",
  path: OperationPaths.metrics,
  operationId: "metrics",
  summary: "Prometheus metrics (text exposition format 0.0.4).",
  description: "Needs `Authorization: Bearer METRICS_TOKEN` when METRICS_TOKEN is set; open otherwise.",
  tags,
  security: "metrics",
  responses: { 200: { description: "The metrics", contentType: "text/plain; version=0.0.4", text: true } },
  problems: ["unauthorized", "forbidden"]
})

export const openApi = route({
  method: "get",
  path: OperationPaths.openapi,
  operationId: "openApiDocument",
  summary: "This document.",
  tags,
  responses: { 200: { description: "The OpenAPI 3.1 document of this API", schema: OpenApiDocumentView } },
  problems: []
})

export const problemType = route({
  method: "get",
  path: "/problems/{slug}",
  operationId: "problemType",
  summary: "What a problem type means, in a sentence.",
  tags,
  params: SlugParams,
  responses: { 200: { description: "The problem type", schema: ProblemTypeView } },
  problems: ["not-found"]
})

export const operationRoutesContract = [liveness, readiness, health, metrics, openApi, problemType]
