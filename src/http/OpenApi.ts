/** The OpenAPI 3.1 document of the routes this build serves, at `/openapi.json`. */
import { CallbackStatuses } from "../../domain/callbacks/CallbackState.ts"
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
const body = (schema: unknown, type = "application/json") => ({ required: true, content: { [type]: { schema } } })
const phone = { type: "string", description: "any common format; normalised to E.164" }
const twilioForm = body({ type: "object", description: "Twilio's form parameters" }, "application/x-www-form-urlencoded")
const signed = { parameters: [{ name: "X-Twilio-Signature", in: "header", required: true, schema: { type: "string" } }] }
const hours = {
  type: "object",
  description: "per weekday (mon..sun), intervals of local wall time [open, close); absent: always open",
  additionalProperties: { type: "array", items: { type: "array", items: { type: "string", pattern: "^\\d{2}:\\d{2}$" }, minItems: 2, maxItems: 2 } }
}
const businessFields = {
  name: { type: "string", maxLength: 200 },
  phone,
  timezone: { type: "string", description: "IANA time zone" },
  country: { type: "string", description: "ISO 3166 alpha-2; local visitor numbers are read in it" },
  hours,
  escalation: { type: "array", maxItems: 10, items: { type: "object", required: ["phone"], properties: { phone, ringSeconds: { type: "integer", minimum: 5, maximum: 120 } } } },
  ringSeconds: { type: "integer", minimum: 5, maximum: 120, default: 25 },
  maxConcurrentCalls: { type: "integer", minimum: 1, maximum: 1000, default: 1 },
  vipPhones: { type: "array", items: phone },
  smsFallback: { type: "boolean", default: true }
}

export const openApiDocument = {
  openapi: "3.1.0",
  info: { title: "Switchboard", version: "1", description: "Resilient callback platform: the public callback API, Twilio webhooks, operations and admin API." },
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
      Business: { type: "object", properties: { id: { type: "string" }, ...businessFields, createdAt: { type: "string", format: "date-time" } } },
      Callback: {
        type: "object",
        required: ["id", "businessId", "status", "priority", "escalationLevel", "attempts", "createdAt", "updatedAt"],
        properties: {
          id: { type: "string" },
          businessId: { type: "string" },
          status: { enum: [...CallbackStatuses] },
          priority: { enum: ["normal", "high"] },
          escalationLevel: { type: "integer" },
          nextAttemptAt: { type: "string", format: "date-time" },
          scheduledFor: { type: "string", format: "date-time" },
          attempts: {
            type: "array",
            items: {
              type: "object",
              properties: { n: { type: "integer" }, to: { type: "string" }, status: { type: "string" }, startedAt: { type: "string" }, endedAt: { type: "string" }, error: { type: "string" } }
            }
          },
          createdAt: { type: "string", format: "date-time" },
          updatedAt: { type: "string", format: "date-time" }
        }
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
    "/v1/callbacks": {
      post: {
        summary: "Ask a business for a callback; the phone is verified by an SMS code first.",
        parameters: [{ name: "Idempotency-Key", in: "header", schema: { type: "string", maxLength: 200 } }],
        requestBody: body({
          type: "object",
          required: ["businessId", "phone"],
          properties: { businessId: { type: "string" }, phone, name: { type: "string", maxLength: 100 }, note: { type: "string", maxLength: 500 } }
        }),
        responses: {
          "202": ok("Created; a code is on its way", { type: "object", properties: { id: { type: "string" }, status: { const: "pending_verification" }, verification: { type: "object" } } }),
          "400": errors["400"],
          "404": problem("No such business"),
          "409": problem("An active request for this phone and business exists (`id` names it)"),
          "422": problem("Idempotency-Key reused with another body"),
          "429": problem("Rate limited; see Retry-After")
        }
      }
    },
    "/v1/callbacks/{id}": { get: { summary: "A callback request and its attempts.", parameters: [idParam], responses: { "200": ok("The request", ref("Callback")), "404": errors["404"] } } },
    "/v1/callbacks/{id}/verification": {
      post: {
        summary: "Enter the texted code.",
        parameters: [idParam],
        requestBody: body({ type: "object", required: ["code"], properties: { code: { type: "string" } } }),
        responses: {
          "200": ok("Verified and queued", { type: "object", properties: { id: { type: "string" }, status: { const: "queued" }, scheduledFor: { type: "string", format: "date-time" } } }),
          "400": problem("Wrong code (`attemptsRemaining`) or invalid body"),
          "404": errors["404"],
          "409": problem("Already verified or cancelled"),
          "410": problem("Expired or out of attempts"),
          "429": problem("Rate limited; see Retry-After")
        }
      }
    },
    "/v1/callbacks/{id}/verification/resend": {
      post: { summary: "Text a new code.", parameters: [idParam], responses: { "202": ok("A new code is on its way", { type: "object" }), "404": errors["404"], "409": problem("Not awaiting verification"), "410": problem("Expired"), "429": problem("Sent too often; see Retry-After") } }
    },
    "/twilio/voice/{attemptId}": { post: { ...signed, summary: "TwiML announcing the callback and bridging the visitor.", requestBody: twilioForm, responses: { "200": ok("TwiML", { type: "string" }, "text/xml"), "403": problem("Bad signature") } } },
    "/twilio/status/call/{attemptId}": { post: { ...signed, summary: "Call status callback (idempotent, order-insensitive).", requestBody: twilioForm, responses: { "204": { description: "Taken" }, "403": problem("Bad signature") } } },
    "/twilio/status/sms/{messageId}": { post: { ...signed, summary: "Message status callback.", requestBody: twilioForm, responses: { "204": { description: "Taken" }, "403": problem("Bad signature") } } },
    "/admin/api/businesses": {
      get: { ...admin, summary: "Businesses.", parameters: [{ name: "limit", in: "query", schema: { type: "integer" } }, { name: "cursor", in: "query", schema: { type: "string" } }], responses: { "200": ok("A page of businesses", { type: "object", properties: { items: { type: "array", items: ref("Business") }, nextCursor: { type: "string" } } }), ...errors } },
      post: { ...admin, summary: "Create a business.", requestBody: body({ type: "object", required: ["name", "phone", "timezone"], properties: businessFields }), responses: { "201": ok("Created", ref("Business")), ...errors } }
    },
    "/admin/api/businesses/{id}": {
      get: { ...admin, summary: "One business.", parameters: [idParam], responses: { "200": ok("The business", ref("Business")), ...errors } },
      patch: { ...admin, summary: "Change some fields of a business.", parameters: [idParam], requestBody: body({ type: "object", properties: businessFields }), responses: { "200": ok("The business", ref("Business")), ...errors } }
    },
    "/admin/api/callbacks": {
      get: {
        ...admin,
        summary: "Callback requests, newest first (status=failed is the dead-letter view).",
        parameters: [
          { name: "status", in: "query", schema: { enum: [...CallbackStatuses] } },
          { name: "businessId", in: "query", schema: { type: "string" } },
          { name: "phone", in: "query", schema: { type: "string" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
          { name: "cursor", in: "query", schema: { type: "string" } }
        ],
        responses: { "200": ok("A page of requests", { type: "object", properties: { items: { type: "array", items: ref("Callback") }, nextCursor: { type: "string" } } }), ...errors }
      }
    },
    "/admin/api/callbacks/{id}/retry": { post: { ...admin, summary: "Failed or cancelled -> queued.", parameters: [idParam], responses: { "200": ok("The request", ref("Callback")), "409": problem("Not retryable in its state"), ...errors } } },
    "/admin/api/callbacks/{id}/cancel": { post: { ...admin, summary: "Cancel an unfinished request.", parameters: [idParam], responses: { "200": ok("The request", ref("Callback")), "409": problem("Already finished"), ...errors } } },
    "/admin/api/stats": {
      get: { ...admin, summary: "Requests by status, the last 24 hours, success rate.", responses: { "200": ok("Stats", { type: "object", properties: { callbacks: { type: "object" }, last24h: { type: "object" }, successRate: { type: ["number", "null"] } } }), ...errors } }
    },
    "/admin/api/processes": { get: { ...admin, summary: "Live processes with their role and load.", responses: { "200": ok("Processes", { type: "array", items: ref("Process") }), ...errors } } }
  }
} as const
