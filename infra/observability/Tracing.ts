/**
 * Trace export. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans (HTTP requests,
 * enqueues, job attempts, SQL statements) go to `<endpoint>/v1/traces` over
 * OTLP/HTTP in batches, flushed at shutdown. Without it, Effect's own tracer
 * still gives log lines their trace and span ids, and nothing is exported.
 *
 * `TraceExport` tells hot paths whether spans go anywhere: a job attempt with
 * no stored trace parent gets no span of its own unless they do (creating one
 * costs more than running a small job).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const TracingConfig = Config.all({
  endpoint: Config.option(
    Config.url("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.withDescription("OTLP/HTTP base URL (traces go to /v1/traces); unset: no export"))
  ),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("switchboard"), Config.withDescription("service.name of exported spans"))
})

/** Whether spans are exported (false unless a tracing layer says so). */
export class TraceExport extends Context.Reference<TraceExport>()("switchboard/infra/TraceExport", {
  defaultValue: () => ({ exporting: false })
}) {}

/** The OpenTelemetry SDK with this span processor, as the Effect tracer. */
export const tracingWith = (spanProcessor: SpanProcessor, serviceName = "switchboard", attributes: Record<string, string> = {}) =>
  Layer.merge(
    NodeSdk.layer(() => ({ resource: { serviceName, attributes }, spanProcessor, shutdownTimeout: "5 seconds" })),
    Layer.succeed(TraceExport, { exporting: true })
  )

/** OTLP export when configured, else nothing; `role` is recorded on every span's resource. */
export const TracingLive = (role: string) =>
  Layer.unwrapEffect(
    Effect.map(TracingConfig, ({ endpoint, serviceName }) =>
      Option.match(endpoint, {
        onNone: () => Layer.empty,
        onSome: (url) => {
          const base = url.href.replace(/\/+$/, "")
          const exporter = new OTLPTraceExporter({ url: `${base}/v1/traces` })
          return tracingWith(new BatchSpanProcessor(exporter), serviceName, { "switchboard.role": role })
        }
      })
    )
  )
