/**
 * Trace export. With `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (traces go to `<endpoint>/v1/traces`) set,
 * spans (HTTP requests, enqueues, job attempts, Twilio requests, SQL
 * statements) are exported over OTLP/HTTP in batches, flushed at shutdown, as
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL` says:
 * `http/protobuf` (the specification's default) or `http/json`; `grpc` is
 * refused at start-up with a clear message.
 * Without either, Effect's own tracer still gives log lines their trace and
 * span ids, and nothing is exported.
 *
 * What is sampled: a trace starts only at an incoming HTTP request (a server
 * span) and everything under it follows its parent's decision, so background
 * work (claims, heartbeats, promotions, cron enqueues, maintenance SQL) makes
 * no traces of its own: an idle process exports nothing; its activity is in
 * the metrics. A job enqueued inside a traced request carries the trace on
 * (its stored traceparent), and so do the Twilio webhooks of a call (the
 * traceparent rides in their URLs).
 *
 * Resource: `service.name` (`OTEL_SERVICE_NAME`), `service.version` (the
 * package's), `deployment.environment` (`NODE_ENV`, else `development`),
 * `switchboard.role`, plus `OTEL_RESOURCE_ATTRIBUTES`.
 *
 * `TraceExport` tells hot paths whether spans go anywhere: a job attempt with
 * no stored trace parent gets no span of its own unless they do (creating one
 * costs more than running a small job).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { SpanKind } from "@opentelemetry/api"
import { BatchSpanProcessor, ParentBasedSampler, type Sampler, SamplingDecision, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { BUILD } from "./Build.ts"

const TracingConfig = Config.all({
  tracesEndpoint: Config.option(
    Config.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").pipe(Config.withDescription("OTLP/HTTP URL traces are sent to, as it is; wins over OTEL_EXPORTER_OTLP_ENDPOINT"))
  ),
  endpoint: Config.option(
    Config.url("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.withDescription("OTLP/HTTP base URL (traces go to /v1/traces); unset, and no traces endpoint: no export"))
  ),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("switchboard"), Config.withDescription("service.name of exported spans")),
  resourceAttributes: Config.string("OTEL_RESOURCE_ATTRIBUTES").pipe(
    Config.withDefault(""),
    Config.withDescription("more resource attributes, key=value,... (values percent-encoded)")
  ),
  environment: Config.string("NODE_ENV").pipe(Config.withDefault("development")),
  protocol: Config.option(Config.string("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")).pipe(
    Config.zipWith(Config.option(Config.string("OTEL_EXPORTER_OTLP_PROTOCOL")), (traces, any) => Option.getOrElse(Option.orElse(traces, () => any), () => "http/protobuf")),
    Config.validate({
      message: "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (grpc is not supported: point it at the collector's OTLP/HTTP port, 4318)",
      validation: (protocol): protocol is "http/protobuf" | "http/json" => protocol === "http/protobuf" || protocol === "http/json"
    })
  )
})

/** Whether spans are exported (false unless a tracing layer says so). */
export class TraceExport extends Context.Reference<TraceExport>()("switchboard/infra/TraceExport", {
  defaultValue: () => ({ exporting: false })
}) {}

/**
 * Starts a trace only at an incoming request (a server span); a span with a parent follows it
 * (ParentBasedSampler), so background work under no request is never sampled.
 */
const startsAtRequests: Sampler = {
  shouldSample: (_context, _traceId, _name, kind) => ({ decision: kind === SpanKind.SERVER ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD }),
  toString: () => "StartsAtRequests"
}

export const sampler: Sampler = new ParentBasedSampler({ root: startsAtRequests })

/** `OTEL_RESOURCE_ATTRIBUTES` as the specification writes it: `key=value` pairs, comma-separated, values percent-encoded. */
export const parseResourceAttributes = (text: string): Record<string, string> => {
  const attributes: Record<string, string> = {}
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) continue
    const key = pair.slice(0, at).trim()
    try {
      attributes[key] = decodeURIComponent(pair.slice(at + 1).trim())
    } catch {
      attributes[key] = pair.slice(at + 1).trim()
    }
  }
  return attributes
}

/** The OpenTelemetry SDK with this span processor, as the Effect tracer, sampling as `sampler` says. */
export const tracingWith = (spanProcessor: SpanProcessor, serviceName = "switchboard", attributes: Record<string, string> = {}) =>
  Layer.merge(
    NodeSdk.layer(() => ({
      resource: { serviceName, serviceVersion: BUILD.version, attributes },
      spanProcessor,
      tracerConfig: { sampler },
      shutdownTimeout: "5 seconds"
    })),
    Layer.succeed(TraceExport, { exporting: true })
  )

/** OTLP export when configured, else nothing; `role` is recorded on every span's resource. */
export const TracingLive = (role: string) =>
  Layer.unwrapEffect(
    Effect.map(TracingConfig, ({ tracesEndpoint, endpoint, serviceName, resourceAttributes, environment, protocol }) => {
      const url = Option.orElse(
        Option.map(tracesEndpoint, (u) => u.href),
        () => Option.map(endpoint, (u) => `${u.href.replace(/\/+$/, "")}/v1/traces`)
      )
      return Option.match(url, {
        onNone: () => Layer.empty,
        onSome: (tracesUrl) =>
          tracingWith(new BatchSpanProcessor(protocol === "http/json" ? new JsonExporter({ url: tracesUrl }) : new ProtobufExporter({ url: tracesUrl })), serviceName, {
            "deployment.environment": environment,
            ...parseResourceAttributes(resourceAttributes),
            "switchboard.role": role
          })
      })
    })
  )
