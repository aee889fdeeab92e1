/** The OpenAPI 3.1 document of the routes this build serves, at `/openapi.json`. */
import { JobStates } from "../../domain/jobs/JobState.ts"
import { Catalogue } from "./Problems.ts"

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: ref("Problem") } } })
const ok = (description: string, schema: unknown, type = "application/json") => ({ description, content: { [type]: { schema } } })
const admin = { security: [{ adminToken: [] }] }
const errors = {
  "400": problem("Validation failed or malformed query/body"),
  "401": problem("Missing or malformed Authorization header"),
  "403": problem("Wrong token"),
  "404": problem("Not found"),
  "503": problem("The database did not answer")
}
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } }

export const openApiDocument = {
  openapi: "3.1.0",
  info: { title: "Switchboard", version: "1", description: "Resilient callback platform: operations and admin API." },
  components: {
    securitySchemes: {
      adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" },
      metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN (only when set)" }
    },
    schemas: {
      Problem: {
        type: "object",
        required: ["type", "title", "status"],
        properties: {
          type: { type: "string", enum: Object.keys(Catalogue).map((slug) => `/problems/${slug}`) },
          title: { type: "string" },
          status: { type: "integer" },
          detail: { type: "string" },
          requestId: { type: "string" },
          errors: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } }
        }
      },
      Check: { type: "object", required: ["status"], properties: { status: { enum: ["ok", "failing", "not_configured"] }, detail: { type: "string" } } },
      Job: {
        type: "object",
        required: ["id", "queue", "kind", "state", "attempt", "maxAttempts", "runAt", "errors"],
        properties: {
          id: { type: "string" },
          queue: { type: "string" },
          kind: { type: "string" },
          state: { enum: [...JobStates] },
          priority: { type: "integer" },
          attempt: { type: "integer" },
          maxAttempts: { type: "integer" },
          runAt: { type: "string", format: "date-time" },
          args: {},
          errors: { type: "array", items: { type: "object" } },
          finishedAt: { type: ["string", "null"], format: "date-time" },
          createdAt: { type: "string", format: "date-time" }
        }
      },
      Queue: {
        type: "object",
        properties: Object.fromEntries(
          [["queue", "string"], ...["available", "scheduled", "running", "retryable", "discarded", "concurrency"].map((k) => [k, "integer"]), ["oldestAvailableAgeSeconds", "number"]].map(
            ([k, t]) => [k, { type: t }]
          )
        )
      },
      Process: {
        type: "object",
        properties: {
          id: { type: "string" },
          role: { enum: ["all", "web", "worker"] },
          hostname: { type: "string" },
          pid: { type: "integer" },
          startedAt: { type: "string", format: "date-time" },
          heartbeatAt: { type: "string", format: "date-time" },
          queues: { type: "object", additionalProperties: { type: "object", properties: { concurrency: { type: "integer" }, running: { type: "integer" } } } }
        }
      }
    }
  },
  paths: {
    "/livez": { get: { summary: "Liveness: every supervised actor heartbeats. Never touches the database.", responses: { "200": ok("Alive", { type: "object" }), "503": problem("An actor stalled") } } },
    "/readyz": { get: { summary: "Readiness: the database answers, migrations are current, not draining.", responses: { "200": ok("Ready", { type: "object" }), "503": problem("Not ready; `checks` says which") } } },
    "/healthz": {
      get: {
        summary: "Every check with its status.",
        responses: {
          "200": ok("Healthy", { type: "object", properties: { status: { const: "ok" }, checks: { type: "object", additionalProperties: ref("Check") } } }),
          "503": ok("A check fails", { type: "object", properties: { status: { const: "failing" }, checks: { type: "object", additionalProperties: ref("Check") } } })
        }
      }
    },
    "/metrics": { get: { summary: "Prometheus text format.", security: [{}, { metricsToken: [] }], responses: { "200": ok("Metrics", { type: "string" }, "text/plain; version=0.0.4"), "401": errors["401"], "403": errors["403"] } } },
    "/openapi.json": { get: { summary: "This document.", responses: { "200": ok("OpenAPI 3.1", { type: "object" }) } } },
    "/problems/{slug}": {
      get: { summary: "What a problem type means.", parameters: [{ name: "slug", in: "path", required: true, schema: { enum: Object.keys(Catalogue) } }], responses: { "200": ok("The problem type", { type: "object" }), "404": errors["404"] } }
    },
    "/admin": {
      get: { summary: "The dashboard (HTML); it asks for the admin token and reads the admin API with it.", responses: { "200": ok("The page", { type: "string" }, "text/html") } }
    },
    "/admin/api/queues": { get: { ...admin, summary: "Depth and capacity of each queue.", responses: { "200": ok("Queues", { type: "array", items: ref("Queue") }), ...errors } } },
    "/admin/api/jobs": {
      get: {
        ...admin,
        summary: "Jobs, newest first.",
        parameters: [
          { name: "state", in: "query", schema: { enum: [...JobStates] } },
          { name: "queue", in: "query", schema: { type: "string" } },
          { name: "kind", in: "query", schema: { type: "string" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
          { name: "cursor", in: "query", schema: { type: "string" } }
        ],
        responses: { "200": ok("A page of jobs", { type: "object", properties: { items: { type: "array", items: ref("Job") }, nextCursor: { type: "string" } } }), ...errors }
      },
      post: {
        ...admin,
        summary: "Enqueue a job of a known kind.",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["kind"],
                properties: {
                  kind: { type: "string" },
                  args: { type: "object" },
                  runAt: { type: "string", format: "date-time" },
                  delaySeconds: { type: "number" },
                  priority: { type: "integer", minimum: 0, maximum: 9 },
                  maxAttempts: { type: "integer", minimum: 1 },
                  uniqueKey: { type: "string" }
                }
              }
            }
          }
        },
        responses: { "201": ok("Enqueued", ref("Job")), "200": ok("Duplicate of an existing unique key", ref("Job")), "413": problem("Body over 64 KiB"), ...errors }
      }
    },
    "/admin/api/jobs/{id}": { get: { ...admin, summary: "One job.", parameters: [idParam], responses: { "200": ok("The job", ref("Job")), ...errors } } },
    "/admin/api/jobs/{id}/retry": {
      post: { ...admin, summary: "Discarded, cancelled or retryable -> available now.", parameters: [idParam], responses: { "200": ok("The job", ref("Job")), "409": problem("Not retryable in its state"), ...errors } }
    },
    "/admin/api/jobs/{id}/cancel": {
      post: { ...admin, summary: "Cancel a job that has not finished.", parameters: [idParam], responses: { "200": ok("The job", ref("Job")), "409": problem("Already finished"), ...errors } }
    },
    "/admin/api/processes": { get: { ...admin, summary: "Live processes with their role and load.", responses: { "200": ok("Processes", { type: "array", items: ref("Process") }), ...errors } } }
  }
} as const
