/**
 * One trace from the HTTP request to the job's attempt: a request carrying a
 * `traceparent` enqueues a job through the admin API; the server span, the
 * enqueue span and the attempt span (run later, by a pool, from the
 * traceparent stored on the row) must all be in that trace, each a descendant
 * of the one before, with the job attributes on the attempt.
 */
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { tracingWith } from "../../infra/observability/Tracing.ts"
import { type RunningApp, startApp } from "../support/app.ts"
import { cloneDatabase, eventually, query } from "../support/database.ts"
import { LEDGER_SQL } from "../support/testJobs.ts"

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const CALLER_SPAN = "00f067aa0ba902b7"

describe("tracing", () => {
  const exporter = new InMemorySpanExporter()
  let app: RunningApp
  beforeAll(async () => {
    const url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    app = await startApp({ databaseUrl: url, tracing: tracingWith(new SimpleSpanProcessor(exporter)) })
  })
  afterAll(() => app.dispose())

  const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID)
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId
  /** Whether `descendant` hangs below `ancestor` through recorded parents. */
  const descends = (descendant: ReadableSpan, ancestor: ReadableSpan, spans: ReadonlyArray<ReadableSpan>): boolean => {
    let current: ReadableSpan | undefined = descendant
    while (current !== undefined) {
      const parent = parentOf(current)
      if (parent === ancestor.spanContext().spanId) return true
      current = spans.find((s) => s.spanContext().spanId === parent)
    }
    return false
  }

  it("links the HTTP request, the enqueue and the job attempt in one trace", async () => {
    const response = await app.request("/admin/api/jobs", {
      method: "POST",
      admin: true,
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
      body: JSON.stringify({ kind: "test.ledger", args: { sleepMs: 10 } })
    })
    expect(response.status).toBe(201)
    const job = (await response.json()) as { id: string }

    const attempt = await eventually(async () => inTrace().find((s) => s.name === "job test.ledger"), 20_000, "the attempt span")
    const spans = inTrace()
    const server = spans.find((s) => s.name === "POST /admin/api/jobs")
    const enqueue = spans.find((s) => s.name === "switchboard.enqueue")
    expect(server).toBeDefined()
    expect(enqueue).toBeDefined()
    if (server === undefined || enqueue === undefined) return

    expect(parentOf(server)).toBe(CALLER_SPAN) // continues the caller's trace
    expect(server.kind).toBe(1) // SERVER
    expect(server.attributes["http.route"]).toBe("/admin/api/jobs")
    expect(server.attributes["http.response.status_code"]).toBe(201)
    expect(descends(enqueue, server, spans)).toBe(true)
    expect(descends(attempt, enqueue, spans)).toBe(true)
    expect(attempt.kind).toBe(4) // CONSUMER
    expect(attempt.attributes).toMatchObject({ "job.id": job.id, "job.kind": "test.ledger", "job.attempt": 1, "job.queue": "default" })
    // the handler's SQL runs inside the attempt
    expect(spans.some((s) => s.name === "sql.execute" && descends(s, attempt, spans))).toBe(true)
  })

  it("starts a new trace for a request without traceparent, and leaves probes untraced", async () => {
    exporter.reset()
    await app.request("/livez")
    await app.request("/readyz")
    expect((await app.request("/admin/api/queues", { admin: true })).status).toBe(200)
    const spans = await eventually(async () => {
      const found = exporter.getFinishedSpans().filter((s) => s.name === "GET /admin/api/queues")
      return found.length > 0 ? found : undefined
    }, 5_000, "the queues span")
    expect(spans[0]?.parentSpanContext).toBeUndefined()
    expect(exporter.getFinishedSpans().some((s) => s.name.includes("/livez") || s.name.includes("/readyz"))).toBe(false)
  })
})
