/**
 * The OpenAPI 3.1 document at `/openapi.json`, generated from the route table
 * (contract/index.ts): each route's schemas become its parameters, request
 * body and responses (`JSONSchema.fromAST`, targeting OpenAPI 3.1), schemas
 * with an `identifier` become shared components, and every problem type a
 * route may answer with is a shared response of the problem+json document.
 */
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import { accessProblems, type AnyRoute, type ResponseSpec, type Security } from "./Contract.ts"
import { Catalogue, type Slug } from "./Problems.ts"

export interface DocumentOptions {
  /** The base URL clients reach this deployment at (PUBLIC_BASE_URL), or `/` (relative to the document). */
  readonly serverUrl: string
}

/** The problem+json document every 4xx/5xx carries (API.md "Errors"). */
export const ProblemDocument = Schema.Struct({
  type: Schema.String.annotations({ description: "`/problems/<slug>`; `GET` it for an explanation" }),
  title: Schema.String,
  status: Schema.Int,
  detail: Schema.optional(Schema.String),
  requestId: Schema.optional(Schema.String.annotations({ description: "quote it when reporting a problem: the logs carry it" })),
  errors: Schema.optional(
    Schema.Array(
      Schema.Struct({
        in: Schema.Literal("body", "query", "path", "header"),
        path: Schema.String.annotations({ description: "JSON Pointer (RFC 6901) into that part of the request" }),
        message: Schema.String
      })
    ).annotations({ description: "validation: every field that failed" })
  )
},
  // RFC 9457 extension members (a conflict's `state`, a wrong code's `attemptsRemaining`, a probe's `checks`)
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ identifier: "Problem", description: "RFC 9457 problem details; extension members vary by type" })

type JsonObject = Record<string, unknown>

const securitySchemes = {
  adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" },
  publishableKey: { type: "apiKey", in: "query", name: "key", description: "a business's publishable key (pk_...), as a web page sends it" },
  businessKey: { type: "http", scheme: "bearer", description: "a business's publishable (pk_...) or secret (sk_...) key" },
  metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN (only when it is set)" }
} as const

const securityOf = (security: Security | undefined): ReadonlyArray<JsonObject> | undefined => {
  switch (security) {
    case "admin":
      return [{ adminToken: [] }]
    case "metrics":
      return [{}, { metricsToken: [] }]
    case "key":
      return [{ publishableKey: [] }, { businessKey: [] }, { adminToken: [] }]
    case "secret":
      return [{ businessKey: [] }]
    default:
      return [{}]
  }
}

/** The headers problem responses of these types carry. */
const headersOf = (slugs: ReadonlyArray<Slug>): { headers?: JsonObject } => {
  const headers: JsonObject = {}
  if (slugs.includes("rate-limited") || slugs.includes("unavailable")) headers["Retry-After"] = { description: "seconds to wait before trying again", schema: { type: "integer" } }
  if (slugs.includes("unauthorized")) headers["WWW-Authenticate"] = { description: "Bearer", schema: { type: "string" } }
  return Object.keys(headers).length === 0 ? {} : { headers }
}

/** The name of the shared response of one problem type. */
const problemResponseName = (slug: Slug) => `problem-${slug}`

export const makeDocument = (routes: ReadonlyArray<AnyRoute>, options: DocumentOptions): JsonObject => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const jsonSchema = (schema: Schema.Schema.AnyNoContext): unknown =>
    JSONSchema.fromAST(schema.ast, { definitions, definitionPath: "#/components/schemas/", target: "openApi3.1", topLevelReferenceStrategy: "keep" })

  /** Each member of a struct schema as one OpenAPI parameter. */
  const parametersOf = (schema: Schema.Schema.AnyNoContext | undefined, where: "path" | "query" | "header"): Array<JsonObject> => {
    if (schema === undefined) return []
    // the encoded side, with the checks (patterns, literals) that apply to it
    const ast: SchemaAST.AST = Schema.encodedBoundSchema(schema).ast
    if (ast._tag !== "TypeLiteral") throw new Error(`the ${where} schema must be a struct`)
    return ast.propertySignatures.map((member) => {
      // an optional member is `X | undefined`: the parameter is an X that may be left out
      const p = !member.isOptional || !SchemaAST.isUnion(member.type) ? member : { ...member, type: SchemaAST.Union.make(member.type.types.filter((t) => !SchemaAST.isUndefinedKeyword(t))) }
      const description = Option.getOrUndefined(SchemaAST.getDescriptionAnnotation(p.type))
      return {
        name: String(p.name),
        in: where,
        required: where === "path" || !p.isOptional,
        ...(description === undefined ? {} : { description }),
        schema: JSONSchema.fromAST(p.type, { definitions, definitionPath: "#/components/schemas/", target: "openApi3.1" })
      }
    })
  }

  const responseOf = (spec: ResponseSpec): JsonObject => ({
    description: spec.description,
    ...(spec.headers === undefined ? {} : { headers: Object.fromEntries(Object.entries(spec.headers).map(([name, h]) => [name, { description: h.description, schema: { type: "string" } }])) }),
    ...(spec.schema === undefined && spec.contentType === undefined
      ? {}
      : {
          content: {
            [spec.contentType ?? "application/json"]: {
              schema: spec.schema === undefined ? { type: "string" } : jsonSchema(spec.schema),
              ...(spec.events === undefined ? {} : { "x-event-schema": jsonSchema(spec.events) })
            }
          }
        })
  })

  const usedProblems = new Set<Slug>()
  const paths: Record<string, Record<string, JsonObject>> = {}
  for (const route of routes) {
    const responses: Record<string, unknown> = {}
    for (const [status, spec] of Object.entries(route.responses)) responses[status] = responseOf(spec)
    const byStatus = new Map<string, Array<Slug>>()
    // the body limit answers every request that carries a body, whether the route reads it or not
    // and a JSON body sent as anything but application/json is refused (Validate.ts)
    const jsonBody = route.body !== undefined && (route.body.contentType ?? "application/json") === "application/json"
    const problems: ReadonlyArray<Slug> = [
      ...new Set([
        ...route.problems,
        ...accessProblems(route),
        ...(route.method === "get" || route.method === "delete" ? [] : ["payload-too-large" as const]),
        ...(jsonBody ? ["unsupported-media-type" as const] : [])
      ])
    ]
    for (const slug of problems) {
      const status = String(Catalogue[slug].status)
      if (responses[status] === undefined) byStatus.set(status, [...(byStatus.get(status) ?? []), slug])
    }
    for (const [status, slugs] of byStatus) {
      const [only] = slugs
      if (slugs.length === 1 && only !== undefined) {
        responses[status] = { $ref: `#/components/responses/${problemResponseName(only)}` }
        usedProblems.add(only) // only responses something refers to are components (redocly: no-unused-components)
      } else {
        // several problem types share the status (400: validation, malformed-body, wrong-code): one response names them all
        responses[status] = {
          description: slugs.map((slug) => `\`/problems/${slug}\` (${Catalogue[slug].title}): ${Catalogue[slug].description}`).join(" "),
          ...headersOf(slugs),
          content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } }
        }
      }
    }
    const parameters = [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query"), ...parametersOf(route.headers, "header")]
    if (route.security === "twilio") {
      parameters.push({ name: "X-Twilio-Signature", in: "header", required: true, description: "Twilio's signature of this URL and its parameters", schema: { type: "string" } })
    }
    const operation: JsonObject = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description === undefined ? {} : { description: route.description }),
      tags: [...route.tags],
      security: securityOf(route.security),
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(route.body === undefined
        ? {}
        : { requestBody: { required: true, content: { [route.body.contentType ?? "application/json"]: { schema: jsonSchema(route.body.schema) } } } }),
      responses
    }
    const forPath = (paths[route.path] ??= {})
    forPath[route.method] = operation
  }

  const problemSchema = jsonSchema(ProblemDocument)
  const problemResponses = Object.fromEntries(
    [...usedProblems].map((slug) => {
      const entry = Catalogue[slug]
      return [problemResponseName(slug), { description: `${entry.title}: ${entry.description}`, ...headersOf([slug]), content: { "application/problem+json": { schema: problemSchema } } }]
    })
  )

  const tags = [...new Set(routes.flatMap((r) => r.tags))].sort().map((name) => ({ name, description: TagDescriptions[name] ?? name }))

  return withoutEffectMarkers({
    openapi: "3.1.0",
    info: {
      title: "Switchboard",
      version: "1",
      description: "Resilient callback platform: the public callback API, Twilio webhooks, operations and admin API.",
      license: { name: "MIT", identifier: "MIT" }
    },
    servers: [{ url: options.serverUrl, description: "this deployment" }],
    tags,
    paths,
    components: { securitySchemes, schemas: definitions, responses: problemResponses }
  }) as JsonObject
}

/**
 * Effect's JSON Schema marks `Schema.Unknown` and `Schema.Any` with `$id: "/schemas/unknown"`
 * (`/schemas/any`, ...) wherever they occur: one id on several schemas, which a validator refuses
 * as ambiguous. They constrain nothing, so the document leaves them out.
 */
const withoutEffectMarkers = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(withoutEffectMarkers)
    : typeof value === "object" && value !== null
      ? Object.fromEntries(
          Object.entries(value)
            .filter(([key, v]) => !(key === "$id" && typeof v === "string" && v.startsWith("/schemas/")))
            .map(([key, v]) => [key, withoutEffectMarkers(v)])
        )
      : value

const TagDescriptions: Record<string, string> = {
  callbacks: "The visitor-facing callback API.",
  twilio: "Webhooks Twilio calls; each needs a valid X-Twilio-Signature.",
  businesses: "Admin: the businesses that take callbacks.",
  "admin-callbacks": "Admin: callback requests, the dead-letter view, retry and cancel.",
  jobs: "Admin: the job engine's queues, jobs and processes.",
  operations: "Probes, metrics, this document and the problem types."
}
