/**
 * W3C trace context as stored on a job row and carried in HTTP headers: the
 * enqueuer's span becomes the parent of the job's attempt spans, so one trace
 * runs from the request through every attempt.
 */
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as Headers from "@effect/platform/Headers"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

/** The `traceparent` header value of the current span, if there is one. */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.map(Effect.option(Effect.currentSpan), (span) =>
  Option.match(span, { onNone: () => undefined, onSome: (s) => HttpTraceContext.toHeaders(s).traceparent })
)

/**
 * The span a stored or received `traceparent` names, when it is well formed, with its
 * sampled flag where the OpenTelemetry tracer reads it: @effect/opentelemetry takes an
 * external span's flags from its context and counts one without them as sampled, so a
 * parent that was not sampled (a cron slot's enqueue) would start an exported trace.
 */
export const parentFrom = (traceparent: string | null | undefined): Option.Option<Tracer.ExternalSpan> =>
  traceparent === null || traceparent === undefined
    ? Option.none()
    : Option.map(HttpTraceContext.fromHeaders(Headers.fromInput({ traceparent })), (span) =>
        OtelTracer.makeExternalSpan({ traceId: span.traceId, spanId: span.spanId, traceFlags: span.sampled ? 1 : 0 })
      )
