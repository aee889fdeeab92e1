/**
 * Traces as an OpenTelemetry collector receives them, from the app configured
 * by the environment (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, a local OTLP/HTTP
 * receiver here): one callback is one trace, from `POST /v1/callbacks`
 * through the dial's job, Twilio's `calls.create` and the status webhooks to
 * the settlement; the enqueue is a producer span and the attempt a consumer;
 * the resource says the service's version and environment; and an idle
 * process exports nothing at all.
 */
import { createServer, type Server } from "node:http"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TracingLive } from "../../infra/observability/Tracing.ts"
import { type CallbackApp, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase, eventually } from "../support/database.ts"

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly startTimeUnixNano: string
}
interface OtlpAttribute {
  readonly key: string
  readonly value: { readonly stringValue?: string }
}
interface OtlpExport {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<OtlpAttribute> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

/** OTLP's span kinds. */
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const

describe("traces over OTLP", () => {
  const exports: Array<{ readonly at: number; readonly path: string; readonly body: OtlpExport }> = []
  let receiver: Server
  let endpoint: string
  let app: CallbackApp
  const spans = () => exports.flatMap((e) => e.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)))

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = ""
      request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      request.on("end", () => {
        exports.push({ at: Date.now(), path: request.url ?? "", body: JSON.parse(body) as OtlpExport })
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
    const address = receiver.address()
    endpoint = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
    app = await startCallbackApp({
      databaseUrl: await cloneDatabase(),
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/collector/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_RESOURCE_ATTRIBUTES: "team=voice,region=eu%2Dwest" },
      tracing: TracingLive("all")
    })
  })
  afterAll(async () => {
    await app?.dispose()
    await new Promise<void>((resolve) => receiver.close(() => resolve()))
  })

  it("an idle process exports no span in 10 s", async () => {
    await new Promise((resolve) => setTimeout(resolve, 6_000)) // what start-up exported has arrived (the batch delay is 5 s)
    const from = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 16_000)) // 10 s of idling, and the batch delay for it to arrive
    const idle = spans().filter((s) => Number(BigInt(s.startTimeUnixNano) / 1_000_000n) >= from && Number(BigInt(s.startTimeUnixNano) / 1_000_000n) < from + 10_000)
    expect(idle.map((s) => s.name)).toEqual([])
  }, 40_000)

  it("one callback is one trace from its create through the dial, Twilio and the status webhooks to its settlement", async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    const request = await app.verified(business.id)
    await app.waitForStatus(request.id, "completed", 20_000)
    const create = await eventually(async () => spans().find((s) => s.name === "POST /v1/callbacks" && s.kind === KIND.server), 15_000, "the create's span")
    const trace = await eventually(async () => {
      const inTrace = spans().filter((s) => s.traceId === create.traceId)
      // the dial's job span ends after the call it placed is settled, so it may come in a later batch than the settlement
      const names = new Set(inTrace.map((s) => s.name))
      return ["callback.settle", "job callback.dial", "twilio calls.create", "POST /twilio/voice/:attemptId"].every((name) => names.has(name)) ? inTrace : undefined
    }, 15_000, "the settlement, the dial and its webhooks in the create's trace")
    const named = (name: string) => trace.filter((s) => s.name === name)
    expect(named("job callback.dial")[0]?.kind).toBe(KIND.consumer)
    expect(named("twilio calls.create")[0]?.kind).toBe(KIND.client)
    expect(trace.filter((s) => s.name === "switchboard.enqueue").every((s) => s.kind === KIND.producer)).toBe(true)
    expect(trace.some((s) => s.name === "switchboard.enqueue")).toBe(true)
    // Twilio's webhooks for the call continue the trace, under the dial
    const webhooks = named("POST /twilio/status/call/:attemptId")
    expect(webhooks.length).toBeGreaterThan(0)
    expect(webhooks.every((s) => s.kind === KIND.server)).toBe(true)
    expect(named("POST /twilio/voice/:attemptId").length).toBeGreaterThan(0)
    // every span of the trace hangs from another of it, the create's at the top
    const ids = new Set(trace.map((s) => s.spanId))
    for (const span of trace) if (span !== create) expect(span.parentSpanId !== undefined && ids.has(span.parentSpanId), `${span.name} has its parent in the trace`).toBe(true)
    expect(exports.every((e) => e.path === "/collector/traces")).toBe(true)
  }, 60_000)

  it("names the service, its version and environment, and the resource attributes given", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    const resource = exports[0]?.body.resourceSpans[0]?.resource.attributes ?? []
    const value = (key: string) => resource.find((a) => a.key === key)?.value.stringValue
    expect(value("service.name")).toBe("switchboard")
    expect(value("service.version")).toBe(pkg.version)
    expect(value("deployment.environment")).toBe("development")
    expect(value("switchboard.role")).toBe("all")
    expect(value("team")).toBe("voice")
    expect(value("region")).toBe("eu-west")
  })
})
