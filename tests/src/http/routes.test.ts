/**
 * The HTTP surface of one whole process (role `all`) over real HTTP: the
 * operations routes, problem documents, request ids, the body limit, bearer
 * auth (admin and metrics tokens) and the admin job routes end to end, with
 * the process's own workers running the jobs it enqueues.
 */
import * as os from "node:os"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN, type RunningApp, startApp } from "../../support/app.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { count, ledgerDatabase } from "../../support/ledger.ts"

interface Job {
  readonly id: string
  readonly queue: string
  readonly kind: string
  readonly state: string
  readonly priority: number
  readonly attempt: number
  readonly maxAttempts: number
  readonly runAt: string
  readonly args: unknown
  readonly errors: ReadonlyArray<unknown>
  readonly uniqueKey: string | null
  readonly finishedAt: string | null
  readonly createdAt: string
  readonly duplicate?: boolean
}

interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly requestId?: string
  readonly errors?: ReadonlyArray<{ readonly in: string; readonly path: string; readonly message: string }>
  readonly state?: string
}

interface Page {
  readonly items: ReadonlyArray<Job>
  readonly nextCursor?: string
}

interface QueueRow {
  readonly queue: string
  readonly available: number
  readonly scheduled: number
  readonly running: number
  readonly retryable: number
  readonly discarded: number
  readonly oldestAvailableAgeSeconds: number
  readonly concurrency: number
}

interface ProcessRow {
  readonly id: string
  readonly role: string
  readonly hostname: string
  readonly pid: number
  readonly startedAt: string
  readonly heartbeatAt: string
  readonly queues: Record<string, { readonly concurrency: number; readonly running: number }>
}

interface OpenApi {
  readonly openapi: string
  readonly paths: Record<string, Record<string, unknown>>
  readonly components: { readonly schemas: { readonly ProblemType: { readonly properties: { readonly type: { readonly enum: ReadonlyArray<string> } } } } }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const HOUR = 3_600_000

const bodyOf = async <T>(response: Response): Promise<T> => (await response.json()) as T

/** Asserts `response` is the problem document of `slug` with `status`, and returns it. */
const expectProblem = async (response: Response, status: number, slug: string): Promise<Problem> => {
  const text = await response.text()
  expect({ status: response.status, body: text }).toMatchObject({ status })
  expect(response.headers.get("content-type")).toBe("application/problem+json")
  const problem = JSON.parse(text) as Problem
  expect(problem).toMatchObject({ type: `/problems/${slug}`, status, title: expect.any(String), detail: expect.any(String) })
  expect(problem.title.length).toBeGreaterThan(0)
  expect(problem.requestId).toBe(response.headers.get("x-request-id"))
  return problem
}

const expectJson = async <T>(response: Response, status: number): Promise<T> => {
  const text = await response.text()
  expect({ status: response.status, body: text }).toMatchObject({ status })
  expect(response.headers.get("content-type")).toMatch(/^application\/json/)
  return JSON.parse(text) as T
}

describe("the HTTP API of a process", () => {
  const db = ledgerDatabase()
  let app: RunningApp

  beforeAll(async () => {
    app = await startApp({ databaseUrl: db.url })
  })
  afterAll(() => app?.dispose())

  const enqueue = (body: Record<string, unknown>) =>
    app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify(body) })
  const enqueued = async (body: Record<string, unknown>): Promise<Job> => expectJson<Job>(await enqueue(body), 201)
  const getJob = async (id: string): Promise<Job> => expectJson<Job>(await app.request(`/admin/api/jobs/${id}`, { admin: true }), 200)
  const waitForState = (id: string, state: string, timeoutMs = 20_000) =>
    eventually(async () => {
      const job = await getJob(id)
      return job.state === state ? job : undefined
    }, timeoutMs, `job ${id} to be ${state}`)
  const act = (id: string, action: "retry" | "cancel") => app.request(`/admin/api/jobs/${id}/${action}`, { method: "POST", admin: true })
  const inAnHour = () => new Date(Date.now() + HOUR).toISOString()

  describe("operations routes", () => {
    it("GET /livez is 200 {status: ok}", async () => {
      const response = await app.request("/livez")
      expect(await expectJson(response, 200)).toEqual({ status: "ok" })
      expect(response.headers.get("x-request-id")).toMatch(UUID)
    })

    it("GET /readyz is 200 {status: ok} once migrated", async () => {
      expect(await expectJson(await app.request("/readyz"), 200)).toEqual({ status: "ok" })
    })

    it("GET /healthz lists every check with its status", async () => {
      const health = await expectJson<{ status: string; checks: Record<string, { status: string; detail?: string }> }>(await app.request("/healthz"), 200)
      expect(health.status).toBe("ok")
      expect(Object.keys(health.checks).sort()).toEqual(["actors", "database", "draining", "migrations", "twilio"])
      expect(health.checks.database).toEqual({ status: "ok" })
      expect(health.checks.migrations).toEqual({ status: "ok" })
      expect(health.checks.actors).toEqual({ status: "ok" })
      expect(health.checks.draining).toEqual({ status: "ok" })
      // no TWILIO_ACCOUNT_SID: the in-process simulator, both circuits closed
      expect(health.checks.twilio?.status).toBe("ok")
      expect(health.checks.twilio?.detail).toMatch(/^the simulator at http:\/\/127\.0\.0\.1:\d+; voice circuit closed, sms circuit closed$/)
    })

    it("GET /metrics is Prometheus text with the HTTP counters, open when METRICS_TOKEN is unset", async () => {
      await app.request("/livez")
      const response = await app.request("/metrics")
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
      const text = await response.text()
      expect(text).toContain("# TYPE switchboard_http_requests_total counter")
      expect(text).toMatch(/switchboard_http_requests_total\{method="GET",route="\/livez",status="200"\} [1-9]/)
    })

    it("GET /openapi.json is an OpenAPI 3.1 document of the operations, callback, webhook and admin routes", async () => {
      const doc = await expectJson<OpenApi>(await app.request("/openapi.json"), 200)
      expect(doc.openapi).toBe("3.1.0")
      expect(Object.keys(doc.paths).sort()).toEqual(
        [
          "/livez",
          "/readyz",
          "/healthz",
          "/metrics",
          "/openapi.json",
          "/problems/{slug}",
          "/admin/api/audit",
          "/widget.js",
          "/widget/{file}",
          "/demo",
          "/demo/demo.js",
          "/demo/texts",
          "/admin/api/queues",
          "/admin/api/queues/{queue}/pause",
          "/admin/api/queues/{queue}/resume",
          "/admin/api/jobs",
          "/admin/api/jobs/{id}",
          "/admin/api/jobs/{id}/retry",
          "/admin/api/jobs/{id}/cancel",
          "/admin/api/jobs/{id}/run-now",
          "/admin/api/crons",
          "/admin/api/crons/{name}/run",
          "/admin/api/crons/{name}/enable",
          "/admin/api/crons/{name}/disable",
          "/admin/api/processes",
          "/admin/api/processes/{id}/drain",
          "/admin/api/bulk-operations",
          "/admin/api/bulk-operations/preview",
          "/admin/api/bulk-operations/{id}",
          "/admin/api/callback-bulk-operations",
          "/admin/api/callback-bulk-operations/preview",
          "/admin/api/callback-bulk-operations/{id}",
          "/v1/callbacks",
          "/v1/callbacks/{id}",
          "/v1/callbacks/{id}/events",
          "/v1/callbacks/{id}/stream",
          "/admin/api/events",
          "/admin/api/event-log",
          "/v1/business",
          "/admin/api/businesses/{id}/keys",
          "/admin/api/businesses/{id}/bot-check",
          "/admin/api/businesses/{id}/departments",
          "/admin/api/businesses/{id}/departments/{key}",
          "/admin/api/businesses/{id}/departments/{key}/flow",
          "/admin/api/businesses/{id}/departments/{key}/flow/versions",
          "/admin/api/callbacks/{id}/route",
          "/v1/topics",
          "/v1/availability",
          "/admin/api/keys/{id}/revoke",
          "/v1/callbacks/{id}/verification",
          "/v1/callbacks/{id}/verification/resend",
          "/twilio/voice/{attemptId}",
          "/twilio/gather/{attemptId}",
          "/twilio/visitor/{attemptId}",
          "/twilio/status/call/{attemptId}",
          "/twilio/status/sms/{messageId}",
          "/admin/api/businesses",
          "/admin/api/businesses/{id}",
          "/admin/api/callbacks",
          "/admin/api/callbacks/{id}",
          "/admin/api/callbacks/{id}/retry",
          "/admin/api/callbacks/{id}/cancel",
          "/admin/api/stats",
          "/admin/api/businesses/{businessId}/webhooks",
          "/admin/api/webhooks/{endpointId}",
          "/admin/api/webhooks/{endpointId}/rotate-secret",
          "/admin/api/webhooks/{endpointId}/deliveries",
          "/admin/api/webhooks/{endpointId}/deliveries/{deliveryId}/replay",
          "/v1/webhooks",
          "/v1/webhooks/{endpointId}",
          "/v1/webhooks/{endpointId}/rotate-secret",
          "/v1/webhooks/{endpointId}/deliveries",
          "/v1/webhooks/{endpointId}/deliveries/{deliveryId}/replay"
        ].sort()
      )
      expect(Object.keys(doc.paths["/admin/api/jobs"] ?? {}).sort()).toEqual(["get", "post"])
      expect(Object.keys(doc.paths["/v1/callbacks"] ?? {}).sort()).toEqual(["get", "post"])
      expect(Object.keys(doc.paths["/admin/api/jobs/{id}/retry"] ?? {})).toEqual(["post"])
      expect(Object.keys(doc.paths["/admin/api/jobs/{id}/cancel"] ?? {})).toEqual(["post"])
    })

    it("every operation the document lists is served (none answers the unknown-route 404)", async () => {
      const doc = await expectJson<OpenApi>(await app.request("/openapi.json"), 200)
      for (const [template, operations] of Object.entries(doc.paths)) {
        for (const method of Object.keys(operations)) {
          const path = template.replace("{id}", "999999999").replace("{slug}", "not-found")
          const response = await app.request(path, { method: method.toUpperCase(), admin: true, ...(method === "post" ? { body: "{}" } : {}) })
          // an event stream does not end: its headers are the answer
          const streaming = response.headers.get("content-type")?.startsWith("text/event-stream") === true
          const text = streaming ? await response.body?.cancel().then(() => "") : await response.text()
          expect(`${method} ${path} -> ${response.status} ${text}`).not.toContain("no route for")
          expect(response.status, `${method} ${path}`).toBeLessThan(500)
        }
      }
    })
  })

  describe("problem types", () => {
    it("GET /problems/{slug} explains every slug the OpenAPI ProblemType names", async () => {
      const doc = await expectJson<OpenApi>(await app.request("/openapi.json"), 200)
      const types = doc.components.schemas.ProblemType.properties.type.enum
      // every slug this API answers with, at least
      for (const slug of ["validation", "malformed-body", "unauthorized", "forbidden", "not-found", "conflict", "payload-too-large", "unavailable", "internal"]) {
        expect(types).toContain(`/problems/${slug}`)
      }
      for (const type of types) {
        expect(type).toMatch(/^\/problems\/[a-z][a-z-]*$/)
        const described = await expectJson<{ type: string; title: string; status: number; description: string }>(await app.request(type), 200)
        expect(described.type).toBe(type)
        expect(described.title.length).toBeGreaterThan(0)
        expect(described.description.length).toBeGreaterThan(10)
        expect(described.status).toBeGreaterThanOrEqual(400)
        expect(described.status).toBeLessThan(600)
      }
    })

    it("a problem type's status is the status of the responses that carry it", async () => {
      const statusOf = async (slug: string) => (await bodyOf<{ status: number }>(await app.request(`/problems/${slug}`))).status
      expect(await statusOf("validation")).toBe(400)
      expect(await statusOf("malformed-body")).toBe(400)
      expect(await statusOf("unauthorized")).toBe(401)
      expect(await statusOf("forbidden")).toBe(403)
      expect(await statusOf("not-found")).toBe(404)
      expect(await statusOf("conflict")).toBe(409)
      expect(await statusOf("payload-too-large")).toBe(413)
      expect(await statusOf("unavailable")).toBe(503)
      expect(await statusOf("internal")).toBe(500)
    })

    it("an unknown slug is a 404 problem, also for names of Object.prototype", async () => {
      for (const slug of ["no-such-problem", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
        const problem = await expectProblem(await app.request(`/problems/${slug}`), 404, "not-found")
        expect(problem.detail).toContain(slug)
      }
    })
  })

  describe("request ids, unknown routes and the body limit", () => {
    it("echoes a well-formed X-Request-Id on the response and in problem bodies", async () => {
      const id = "abc-123._:XYZ"
      const live = await app.request("/livez", { headers: { "x-request-id": id } })
      expect(live.headers.get("x-request-id")).toBe(id)
      const problem = await expectProblem(await app.request("/nowhere", { headers: { "x-request-id": id } }), 404, "not-found")
      expect(problem.requestId).toBe(id)
      const longest = "r".repeat(128)
      expect((await app.request("/livez", { headers: { "x-request-id": longest } })).headers.get("x-request-id")).toBe(longest)
    })

    it("generates a fresh UUID when the request has none", async () => {
      const a = (await app.request("/livez")).headers.get("x-request-id")
      const b = (await app.request("/livez")).headers.get("x-request-id")
      expect(a).toMatch(UUID)
      expect(b).toMatch(UUID)
      expect(a).not.toBe(b)
    })

    it("replaces a malformed X-Request-Id with a generated one", async () => {
      for (const given of ["a b\n", "<script>alert(1)</script>", "r".repeat(129), "id;drop", "ünïcode", "a\tb", "x/y"]) {
        const response = await app.request("/nowhere", { headers: { "x-request-id": given } })
        const id = response.headers.get("x-request-id")
        expect(id, JSON.stringify(given)).toMatch(UUID)
        expect((await expectProblem(response, 404, "not-found")).requestId).toBe(id)
      }
    })

    it("answers an unknown route or method with a 404 not-found problem", async () => {
      for (const [method, path] of [
        ["GET", "/"],
        ["GET", "/nowhere"],
        ["GET", "/livez/extra"],
        ["POST", "/livez"],
        ["DELETE", "/metrics"],
        ["GET", "/v2/jobs"]
      ] as const) {
        const problem = await expectProblem(await app.request(path, { method }), 404, "not-found")
        expect(problem.detail).toBe(`no route for ${method} ${path}`)
      }
      // under /admin the token is checked first; with it, an unknown admin route is 404 too
      await expectProblem(await app.request("/admin/api/nowhere"), 401, "unauthorized")
      await expectProblem(await app.request("/admin/api/nowhere", { admin: true }), 404, "not-found")
      await expectProblem(await app.request("/admin/api/jobs", { method: "DELETE", admin: true }), 404, "not-found")
    })

    it("refuses a body over 64 KiB with 413 and accepts one just under", async () => {
      const head = JSON.stringify({ kind: "test.ledger", args: { sleepMs: 0 } })
      const padded = (size: number) => head + " ".repeat(size - head.length) // whitespace: still valid JSON
      const tooBig = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: padded(65 * 1024) })
      const problem = await expectProblem(tooBig, 413, "payload-too-large")
      expect(problem.detail).toContain("65536")

      const under = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: padded(64 * 1024 - 100) })
      expect((await expectJson<Job>(under, 201)).kind).toBe("test.ledger")
    })

    it("draws the line at exactly 64 KiB (65536 bytes allowed, 65537 not)", async () => {
      const head = JSON.stringify({ kind: "test.ledger", args: { sleepMs: 0 } })
      const padded = (size: number) => head + " ".repeat(size - head.length)
      expect((await app.request("/admin/api/jobs", { method: "POST", admin: true, body: padded(65_536) })).status).toBe(201)
      await expectProblem(await app.request("/admin/api/jobs", { method: "POST", admin: true, body: padded(65_537) }), 413, "payload-too-large")
    })

    it("refuses a chunked body over 64 KiB (no Content-Length) with 413", async () => {
      const chunk = new TextEncoder().encode(" ".repeat(16 * 1024))
      let sent = 0
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode(JSON.stringify({ kind: "test.ledger" })))
          if (sent >= 5) controller.close()
          else controller.enqueue(chunk)
          sent++
        }
      })
      const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: stream, duplex: "half" } as RequestInit)
      await expectProblem(response, 413, "payload-too-large")
    })
  })

  describe("bearer auth of the admin API", () => {
    const queues = (authorization?: string) =>
      app.request("/admin/api/queues", authorization === undefined ? {} : { headers: { authorization } })

    it("401 with WWW-Authenticate: Bearer when the header is missing or malformed", async () => {
      for (const authorization of [undefined, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", `Token ${ADMIN_TOKEN}`, ADMIN_TOKEN, `Bearer${ADMIN_TOKEN}`]) {
        const response = await queues(authorization)
        const problem = await expectProblem(response, 401, "unauthorized")
        expect(response.headers.get("www-authenticate"), JSON.stringify(authorization)).toMatch(/^Bearer\b/)
        expect(problem.detail).toContain("Authorization")
      }
    })

    it("403 for a wrong token, including one differing in a single character", async () => {
      const last = ADMIN_TOKEN.at(-1) === "0" ? "1" : "0"
      for (const token of [`${ADMIN_TOKEN.slice(0, -1)}${last}`, `x${ADMIN_TOKEN.slice(1)}`, `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), "wrong", ADMIN_TOKEN.toUpperCase()]) {
        const response = await queues(`Bearer ${token}`)
        await expectProblem(response, 403, "forbidden")
        expect(response.headers.get("www-authenticate")).toBeNull()
      }
    })

    it("200 for the right token, whatever the case of the scheme", async () => {
      for (const authorization of [`Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`, `BEARER ${ADMIN_TOKEN}`, `Bearer   ${ADMIN_TOKEN}`]) {
        const response = await queues(authorization)
        expect(response.status, authorization).toBe(200)
        expect(Array.isArray(await response.json())).toBe(true)
      }
    })

    it("guards every admin route, reads included", async () => {
      const before = await count(db.url, "SELECT count(*) AS n FROM jobs")
      for (const [method, path] of [
        ["GET", "/admin/api/queues"],
        ["GET", "/admin/api/jobs"],
        ["POST", "/admin/api/jobs"],
        ["GET", "/admin/api/jobs/1"],
        ["POST", "/admin/api/jobs/1/retry"],
        ["POST", "/admin/api/jobs/1/cancel"],
        ["GET", "/admin/api/processes"]
      ] as const) {
        const body = method === "POST" ? JSON.stringify({ kind: "test.ledger", args: {} }) : undefined
        await expectProblem(await app.request(path, { method, body }), 401, "unauthorized")
        await expectProblem(await app.request(path, { method, body, headers: { authorization: "Bearer not-the-token" } }), 403, "forbidden")
      }
      expect(await count(db.url, "SELECT count(*) AS n FROM jobs")).toBe(before)
    })
  })

  describe("admin job routes", () => {
    it("queues and processes: counts by state, this process with role all and its capacity", async () => {
      // earlier jobs have all completed (not counted): make one of each counted state but available
      await eventually(async () => ((await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state <> 'completed'")) === 0 ? true : undefined), 10_000, "earlier jobs to complete")
      const hanging = await enqueued({ kind: "test.ledger", args: { hangFirstAttempt: true } })
      const scheduled = await Promise.all([1, 2].map(() => enqueued({ kind: "test.ledger", args: {}, runAt: inAnHour() })))
      const dead = await enqueued({ kind: "test.ledger", args: { failTimes: 1 }, maxAttempts: 1 })
      await waitForState(hanging.id, "running")
      await waitForState(dead.id, "discarded")
      expect(scheduled.map((j) => j.state)).toEqual(["scheduled", "scheduled"])

      const rows = await expectJson<Array<QueueRow>>(await app.request("/admin/api/queues", { admin: true }), 200)
      expect(rows).toEqual([
        { queue: "default", available: 0, scheduled: 2, running: 1, retryable: 0, discarded: 1, oldestAvailableAgeSeconds: 0, concurrency: 10, paused: false }
      ])

      const processes = await eventually(async () => {
        const list = await expectJson<Array<ProcessRow>>(await app.request("/admin/api/processes", { admin: true }), 200)
        return list[0]?.queues.default?.running === 1 ? list : undefined
      }, 10_000, "the process row to show the running job")
      expect(processes).toHaveLength(1)
      const [self] = processes
      expect(self).toMatchObject({
        role: "all",
        pid: process.pid,
        hostname: os.hostname(),
        queues: { default: { concurrency: 10, running: 1 } },
        drainRequestedAt: null,
        drainRequestedBy: null
      })
      expect(self?.id).toMatch(UUID)
      expect(self?.startedAt).toMatch(ISO)
      expect(self?.heartbeatAt).toMatch(ISO)
      expect(Date.parse(self?.heartbeatAt ?? "")).toBeGreaterThanOrEqual(Date.parse(self?.startedAt ?? ""))
      expect(Math.abs(Date.now() - Date.parse(self?.heartbeatAt ?? ""))).toBeLessThan(10_000)

      const cancelled = await expectJson<Job>(await act(hanging.id, "cancel"), 200)
      expect(cancelled.state).toBe("cancelled")
      expect((await expectJson<Array<QueueRow>>(await app.request("/admin/api/queues", { admin: true }), 200))[0]?.running).toBe(0)
    })

    it("enqueues a job that the process then runs to completion", async () => {
      const before = Date.now()
      const job = await enqueued({ kind: "test.ledger", args: { sleepMs: 0 } })
      expect(job).toMatchObject({
        queue: "default",
        kind: "test.ledger",
        priority: 2,
        maxAttempts: 5,
        args: { sleepMs: 0 },
        errors: [],
        uniqueKey: null,
        finishedAt: null,
        duplicate: false
      })
      expect(["available", "running", "completed"]).toContain(job.state)
      expect(job.id).toMatch(/^[1-9]\d*$/)
      expect(job.runAt).toMatch(ISO)
      expect(Math.abs(Date.parse(job.runAt) - before)).toBeLessThan(5_000)

      const done = await waitForState(job.id, "completed")
      expect(done).toMatchObject({ id: job.id, attempt: 1, errors: [], kind: "test.ledger" })
      expect(done.finishedAt).toMatch(ISO)
      expect(done.duplicate).toBeUndefined()
      expect(await count(db.url, "SELECT count(*) AS n FROM ledger_completions WHERE job_id = $1", [job.id])).toBe(1)
    })

    it("takes runAt, delaySeconds, priority, maxAttempts and uniqueKey as given", async () => {
      const runAt = inAnHour()
      const at = await enqueued({ kind: "test.ledger", args: { sleepMs: 5 }, runAt, priority: 7, maxAttempts: 3, uniqueKey: "options-1" })
      expect(at).toMatchObject({ state: "scheduled", runAt, priority: 7, maxAttempts: 3, uniqueKey: "options-1", args: { sleepMs: 5 } })
      const before = Date.now()
      const delayed = await enqueued({ kind: "test.keyed", args: { sleepMs: 1 }, delaySeconds: 600 })
      expect(delayed).toMatchObject({ state: "scheduled", kind: "test.keyed", priority: 2, maxAttempts: 3 })
      expect(Math.abs(Date.parse(delayed.runAt) - (before + 600_000))).toBeLessThan(5_000)
      expect(await getJob(at.id)).toMatchObject({ state: "scheduled", runAt, priority: 7 })
    })

    it("a duplicate uniqueKey returns 200, duplicate: true and the existing job", async () => {
      const first = await enqueue({ kind: "test.ledger", args: { sleepMs: 1 }, runAt: inAnHour(), uniqueKey: "dup-key" })
      const original = await expectJson<Job>(first, 201)
      expect(original.duplicate).toBe(false)
      const again = await expectJson<Job>(await enqueue({ kind: "test.ledger", args: { sleepMs: 2 }, uniqueKey: "dup-key" }), 200)
      expect(again).toMatchObject({ id: original.id, duplicate: true, args: { sleepMs: 1 }, state: "scheduled", uniqueKey: "dup-key" })
      expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE unique_key = 'dup-key'")).toBe(1)
    })

    it("refuses bad enqueue bodies with 400 validation or malformed-body", async () => {
      const validation = async (body: unknown, path: string) => {
        const problem = await expectProblem(await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify(body) }), 400, "validation")
        expect(problem.errors?.map((e) => `${e.in} ${e.path}`), JSON.stringify(body)).toContain(`body ${path}`)
        for (const e of problem.errors ?? []) expect(e.message.length).toBeGreaterThan(0)
        return problem
      }
      await validation({ kind: "no.such.kind" }, "/kind")
      await validation({}, "/kind")
      await validation({ kind: 42 }, "/kind")
      await validation({ kind: "test.ledger", args: { sleepMs: "soon" } }, "/args/sleepMs")
      await validation({ kind: "test.ledger", args: { surprise: 1 } }, "/args/surprise")
      await validation({ kind: "test.keyed", args: {} }, "/args/sleepMs")
      await validation({ kind: "test.ledger", extra: true }, "/extra")
      await validation({ kind: "test.ledger", priority: 1.5 }, "/priority")
      await validation({ kind: "test.ledger", delaySeconds: -1 }, "/delaySeconds")
      await validation({ kind: "test.ledger", runAt: 12 }, "/runAt")
      const priority = await expectProblem(await enqueue({ kind: "test.ledger", priority: 10 }), 400, "validation")
      expect(priority.detail).toContain("priority")
      const both = await expectProblem(await enqueue({ kind: "test.ledger", runAt: inAnHour(), delaySeconds: 5 }), 400, "validation")
      expect(both.detail).toContain("runAt")
      await expectProblem(await enqueue({ kind: "test.ledger", maxAttempts: 0 }), 400, "validation")
      await expectProblem(await enqueue({ kind: "test.ledger", uniqueKey: "" }), 400, "validation")
      await expectProblem(await enqueue({ kind: "test.ledger", runAt: "not a date" }), 400, "validation")

      for (const raw of ["{", "{\"kind\":", "nope", "[1,2]", "\"test.ledger\"", "null", "42"]) {
        await expectProblem(await app.request("/admin/api/jobs", { method: "POST", admin: true, body: raw }), 400, "malformed-body")
      }
      expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE kind = 'no.such.kind' OR priority = 10")).toBe(0)
    })

    it("names the offending field in errors[].path when an option fails its check", async () => {
      for (const [body, path] of [
        [{ kind: "test.ledger", runAt: "not a date" }, "/runAt"],
        [{ kind: "test.ledger", priority: 10 }, "/priority"],
        [{ kind: "test.ledger", maxAttempts: 0 }, "/maxAttempts"],
        [{ kind: "test.ledger", uniqueKey: "" }, "/uniqueKey"]
      ] as const) {
        const problem = await expectProblem(await enqueue(body), 400, "validation")
        expect(problem.errors?.map((e) => ({ in: e.in, path: e.path })), JSON.stringify(body)).toEqual([{ in: "body", path }])
      }
    })

    it("GET /jobs/{id} is a 404 problem for a job that does not exist or an id that is not one", async () => {
      for (const id of ["999999999", "0", "abc", "-1", "1.5", "99999999999999999999999"]) {
        await expectProblem(await app.request(`/admin/api/jobs/${id}`, { admin: true }), 404, "not-found")
      }
    })

    it("lists jobs newest first, filtered by state and kind", async () => {
      const ticks: Array<Job> = []
      for (let i = 0; i < 3; i++) ticks.push(await enqueued({ kind: "test.tick", runAt: inAnHour() }))
      const page = await expectJson<Page>(await app.request("/admin/api/jobs?kind=test.tick", { admin: true }), 200)
      expect(page.items.map((j) => j.id)).toEqual(ticks.map((j) => j.id).reverse())
      expect(page.nextCursor).toBeUndefined()

      const all = await expectJson<Page>(await app.request("/admin/api/jobs?limit=500", { admin: true }), 200)
      const ids = all.items.map((j) => BigInt(j.id))
      expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)))
      expect(all.items.length).toBe(await count(db.url, "SELECT count(*) AS n FROM jobs"))

      for (const state of ["scheduled", "completed", "discarded", "cancelled", "available"]) {
        const filtered = await expectJson<Page>(await app.request(`/admin/api/jobs?state=${state}&limit=500`, { admin: true }), 200)
        expect(filtered.items.every((j) => j.state === state), state).toBe(true)
        const expected = await query<{ id: string }>(db.url, "SELECT id::text AS id FROM jobs WHERE state = $1 ORDER BY jobs.id DESC", [state])
        expect(filtered.items.map((j) => j.id), state).toEqual(expected.map((r) => r.id))
      }
      const both = await expectJson<Page>(await app.request("/admin/api/jobs?state=scheduled&kind=test.keyed&queue=default", { admin: true }), 200)
      expect(both.items.length).toBeGreaterThan(0)
      expect(both.items.every((j) => j.state === "scheduled" && j.kind === "test.keyed" && j.queue === "default")).toBe(true)
      const none = await expectJson<Page>(await app.request("/admin/api/jobs?queue=elsewhere", { admin: true }), 200)
      expect(none).toEqual({ items: [] })
    })

    it("pages with limit=2 through cursors, visiting every job exactly once", async () => {
      const created: Array<string> = []
      for (let i = 0; i < 4; i++) created.push((await enqueued({ kind: "test.tick", runAt: inAnHour() })).id)
      const expected = (await query<{ id: string }>(db.url, "SELECT id::text AS id FROM jobs WHERE kind = 'test.tick' ORDER BY jobs.id DESC")).map((r) => r.id)
      expect(expected.length).toBe(7) // 3 from the listing test and 4 here: an odd count ends on a short page
      expect(expected).toEqual(expect.arrayContaining(created))

      const seen: Array<string> = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = await expectJson<Page>(
          await app.request(`/admin/api/jobs?kind=test.tick&limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`, { admin: true }),
          200
        )
        expect(page.items.length).toBeLessThanOrEqual(2)
        seen.push(...page.items.map((j) => j.id))
        if (page.nextCursor !== undefined) expect(page.nextCursor).toBe(page.items.at(-1)?.id)
        cursor = page.nextCursor
        pages++
      } while (cursor !== undefined && pages < 20)
      expect(pages).toBe(4)
      expect(seen).toEqual(expected)
      expect(new Set(seen).size).toBe(seen.length)

      // an even count: the last full page still has a cursor, and the page after it is empty
      await enqueued({ kind: "test.tick", runAt: inAnHour() })
      const visited: Array<string> = []
      cursor = undefined
      pages = 0
      let last: Page | undefined
      do {
        last = await expectJson<Page>(await app.request(`/admin/api/jobs?kind=test.tick&limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`, { admin: true }), 200)
        visited.push(...last.items.map((j) => j.id))
        cursor = last.nextCursor
        pages++
      } while (cursor !== undefined && pages < 20)
      expect(visited).toHaveLength(8)
      expect(new Set(visited).size).toBe(8)
      expect(last).toEqual({ items: [] })
    })

    it("refuses bad list parameters with 400 validation naming each", async () => {
      const errorsOf = async (search: string) => {
        const problem = await expectProblem(await app.request(`/admin/api/jobs?${search}`, { admin: true }), 400, "validation")
        for (const e of problem.errors ?? []) expect(e.in, search).toBe("query")
        return (problem.errors ?? []).map((e) => e.path).sort()
      }
      expect(await errorsOf("state=bogus")).toEqual(["/state"])
      expect(await errorsOf("state=")).toEqual(["/state"])
      expect(await errorsOf("limit=0")).toEqual(["/limit"])
      expect(await errorsOf("limit=501")).toEqual(["/limit"])
      expect(await errorsOf("limit=abc")).toEqual(["/limit"])
      expect(await errorsOf("limit=-1")).toEqual(["/limit"])
      expect(await errorsOf("limit=2.5")).toEqual(["/limit"])
      expect(await errorsOf("limit=")).toEqual(["/limit"])
      expect(await errorsOf("cursor=xyz")).toEqual(["/cursor"])
      expect(await errorsOf("cursor=-5")).toEqual(["/cursor"])
      expect(await errorsOf("kind=" + "k".repeat(201))).toEqual(["/kind"])
      expect(await errorsOf("state=bogus&limit=0&cursor=xyz")).toEqual(["/cursor", "/limit", "/state"])
      const boundary = await expectJson<Page>(await app.request("/admin/api/jobs?limit=500", { admin: true }), 200)
      expect(boundary.items.length).toBeGreaterThan(0)
      expect((await expectJson<Page>(await app.request("/admin/api/jobs?limit=1", { admin: true }), 200)).items).toHaveLength(1)
    })

    it("cancel and retry follow the job's state: 200 where allowed, 409 naming the state otherwise", async () => {
      const job = await enqueued({ kind: "test.ledger", args: { sleepMs: 0 }, runAt: inAnHour() })
      expect(job.state).toBe("scheduled")

      const notYet = await expectProblem(await act(job.id, "retry"), 409, "conflict")
      expect(notYet.state).toBe("scheduled")
      const cancelled = await expectJson<Job>(await act(job.id, "cancel"), 200)
      expect(cancelled).toMatchObject({ id: job.id, state: "cancelled" })
      expect(cancelled.finishedAt).toMatch(ISO)
      const twice = await expectProblem(await act(job.id, "cancel"), 409, "conflict")
      expect(twice.state).toBe("cancelled")

      const revived = await expectJson<Job>(await act(job.id, "retry"), 200)
      expect(["available", "running", "completed"]).toContain(revived.state)
      expect(revived.finishedAt === null || revived.state === "completed").toBe(true)
      expect(Date.parse(revived.runAt)).toBeLessThanOrEqual(Date.now() + 1_000)
      await waitForState(job.id, "completed")
      for (const action of ["retry", "cancel"] as const) {
        const problem = await expectProblem(await act(job.id, action), 409, "conflict")
        expect(problem.state).toBe("completed")
      }
      expect((await getJob(job.id)).state).toBe("completed")
    })

    it("cancels a running job; a running job cannot be retried", async () => {
      const job = await enqueued({ kind: "test.ledger", args: { hangFirstAttempt: true } })
      await waitForState(job.id, "running")
      const problem = await expectProblem(await act(job.id, "retry"), 409, "conflict")
      expect(problem.state).toBe("running")
      expect(await expectJson<Job>(await act(job.id, "cancel"), 200)).toMatchObject({ id: job.id, state: "cancelled" })
      expect((await getJob(job.id)).state).toBe("cancelled")
    })

    it("retries a discarded job with room for one more attempt, which then completes", async () => {
      const job = await enqueued({ kind: "test.ledger", args: { failTimes: 1 }, maxAttempts: 1 })
      const dead = await waitForState(job.id, "discarded")
      expect(dead).toMatchObject({ attempt: 1, maxAttempts: 1 })
      expect(dead.errors).toHaveLength(1)
      await expectProblem(await act(job.id, "cancel"), 409, "conflict")
      const revived = await expectJson<Job>(await act(job.id, "retry"), 200)
      expect(revived.maxAttempts).toBe(2)
      const done = await waitForState(job.id, "completed")
      expect(done.attempt).toBe(2)
    })

    it("retries a retryable job at once", async () => {
      const job = await enqueued({ kind: "test.ledger", args: { failTimes: 20 }, maxAttempts: 25 })
      // hold it in retryable once it gets there (its backoff is random and may be short)
      await eventually(
        async () => ((await query(db.url, "UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = $1 AND state = 'retryable' RETURNING id", [job.id])).length === 1 ? true : undefined),
        30_000,
        "the job to become retryable"
      )
      const held = await getJob(job.id)
      expect(held.state).toBe("retryable")
      expect(Date.parse(held.runAt)).toBeGreaterThan(Date.now() + 30 * 60_000)
      const revived = await expectJson<Job>(await act(job.id, "retry"), 200)
      expect(revived.state).toBe("available")
      expect(Date.parse(revived.runAt)).toBeLessThanOrEqual(Date.now() + 1_000)
      // stop it failing for the rest of the file
      await eventually(async () => ((await act(job.id, "cancel")).status === 200 ? true : undefined), 10_000, "the job to be cancelled")
    })

    it("retry and cancel of a job that does not exist are 404 problems", async () => {
      for (const id of ["999999999", "abc", "0"]) {
        for (const action of ["retry", "cancel"] as const) {
          const problem = await expectProblem(await act(id, action), 404, "not-found")
          expect(problem.detail).toContain(id)
        }
      }
    })
  })
})

describe("METRICS_TOKEN", () => {
  const METRICS_TOKEN = "metrics-token-abcdefghijklmnop"
  let app: RunningApp

  beforeAll(async () => {
    app = await startApp({ databaseUrl: await cloneDatabase(), env: { METRICS_TOKEN } })
  })
  afterAll(() => app?.dispose())

  it("makes /metrics need the metrics bearer token", async () => {
    const missing = await app.request("/metrics")
    await expectProblem(missing, 401, "unauthorized")
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer\b/)
    await expectProblem(await app.request("/metrics", { headers: { authorization: "Bearer wrong-token-0000000000" } }), 403, "forbidden")
    await expectProblem(await app.request("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}q` } }), 403, "forbidden")
    await expectProblem(await app.request("/metrics", { admin: true }), 403, "forbidden") // the admin token is not the metrics token
    const right = await app.request("/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    expect(right.status).toBe(200)
    expect(right.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(await right.text()).toContain("switchboard_http_requests_total")
  })

  it("leaves the probes and the document open, and the admin API on its own token", async () => {
    expect(await expectJson(await app.request("/livez"), 200)).toEqual({ status: "ok" })
    expect(await expectJson(await app.request("/readyz"), 200)).toEqual({ status: "ok" })
    expect((await app.request("/healthz")).status).toBe(200)
    expect((await app.request("/openapi.json")).status).toBe(200)
    await expectProblem(await app.request("/admin/api/queues", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }), 403, "forbidden")
    expect((await app.request("/admin/api/queues", { admin: true })).status).toBe(200)
  })
})
