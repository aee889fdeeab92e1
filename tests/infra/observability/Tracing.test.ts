/**
 * OTLP export as configured by the environment: with OTEL_EXPORTER_OTLP_ENDPOINT
 * set, spans reach `<endpoint>/v1/traces` over HTTP (here a local receiver),
 * flushed when the layer closes; without it, nothing is sent and spans are not
 * marked as exported.
 */
import { createServer, type Server } from "node:http"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parentFrom } from "../../../infra/observability/TraceContext.ts"
import { TraceExport, TracingLive } from "../../../infra/observability/Tracing.ts"

describe("TracingLive", () => {
  const received: Array<{ path: string; body: string; type: string }> = []
  let server: Server
  let endpoint: string
  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = ""
      request.on("data", (chunk: Buffer) => (body += chunk.toString("latin1")))
      request.on("end", () => {
        received.push({ path: request.url ?? "", body, type: request.headers["content-type"] ?? "" })
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    endpoint = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const runWith = (env: Record<string, string>) =>
    Effect.runPromise(
      Effect.gen(function* () {
        // a request's span: traces start at requests (background work makes none)
        yield* Effect.void.pipe(Effect.withSpan("exported.span", { kind: "server", attributes: { "test.marker": "m-1" } }))
        yield* Effect.void.pipe(Effect.withSpan("background.span", { attributes: { "test.marker": "m-2" } }))
        return (yield* TraceExport).exporting
      }).pipe(
        Effect.provide(TracingLive("worker").pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))))
      )
    )

  it("sends spans to <endpoint>/v1/traces with the service name, and says it exports", async () => {
    const exporting = await runWith({ OTEL_EXPORTER_OTLP_ENDPOINT: `${endpoint}/`, OTEL_SERVICE_NAME: "switchboard-test", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
    expect(exporting).toBe(true)
    const sent = received.filter((r) => r.path === "/v1/traces")
    expect(sent.length).toBeGreaterThan(0)
    const body = sent.map((r) => r.body).join("")
    expect(body).toContain("exported.span")
    expect(body).toContain("switchboard-test")
    expect(body).toContain("m-1")
    expect(body).not.toContain("background.span")
  })

  it("speaks http/protobuf unless told http/json, and sends to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is", async () => {
    received.length = 0
    await runWith({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })
    expect(received.map((r) => [r.path, r.type])).toContainEqual(["/v1/traces", "application/x-protobuf"])
    received.length = 0
    await runWith({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/elsewhere`, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
    expect(received.map((r) => r.path)).toEqual(received.map(() => "/elsewhere"))
    expect(received[0]?.type).toBe("application/json")
    expect(JSON.parse(received[0]?.body ?? "{}")).toHaveProperty("resourceSpans")
    // the signal's own setting wins over the general one
    received.length = 0
    await runWith({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" })
    expect(received[0]?.type).toBe("application/x-protobuf")
  })

  it("continues a stored or received traceparent only when it says sampled", async () => {
    received.length = 0
    const sampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    const notSampled = "00-1bf7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00"
    await Effect.runPromise(
      Effect.gen(function* () {
        // as a job's attempt does with its row's traceparent (supervisors/WorkerPool.ts)
        for (const [name, traceparent] of [["under.sampled", sampled], ["under.not.sampled", notSampled]] as const) {
          yield* Effect.void.pipe(Effect.withSpan(name, { kind: "consumer", parent: Option.getOrUndefined(parentFrom(traceparent)) }))
        }
      }).pipe(
        Effect.provide(
          TracingLive("worker").pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_OTLP_ENDPOINT", endpoint], ["OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"]]))))
          )
        )
      )
    )
    const body = received.map((r) => r.body).join("")
    expect(body).toContain("under.sampled")
    expect(body).not.toContain("under.not.sampled")
  })

  it("refuses grpc at start-up, saying what to do", async () => {
    await expect(runWith({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).rejects.toThrow(/http\/protobuf or http\/json.*4318/)
  })

  it("sends nothing without an endpoint", async () => {
    received.length = 0
    expect(await runWith({})).toBe(false)
    expect(received).toEqual([])
  })
})
