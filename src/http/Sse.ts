/**
 * Server-sent events: a `text/event-stream` Response fed by an Effect.
 *
 * The producer runs as a fiber on the application's runtime and writes
 * events through an {@link SseWriter}; a heartbeat comment goes out every
 * `heartbeat` so proxies and clients see the connection alive. The stream
 * ends when the producer returns (the client's EventSource reconnects after
 * `retry` ms, sending the last id it saw as `Last-Event-ID`), and the
 * producer is interrupted when the client goes away (the server cancels the
 * body). A client that reads slower than events arrive is not buffered
 * without bound: once `maxQueued` chunks wait, the writer fails with
 * {@link SlowClient} and the stream ends; the client resumes from its last id.
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

export class SlowClient extends Data.TaggedError("SlowClient")<{ readonly queued: number }> {}

export interface SseWriter {
  /** One event: `id` is what the client sends back as `Last-Event-ID`; `data` is sent as JSON. */
  readonly event: (id: string, data: unknown) => Effect.Effect<void, SlowClient>
  /** A comment line (`: text`), ignored by clients. */
  readonly comment: (text: string) => Effect.Effect<void>
}

export interface SseOptions {
  readonly heartbeat: Duration.Duration
  /** The reconnection delay the client is told (`retry:`), in ms. */
  readonly retryMs: number
  /** Chunks the client may leave unread before the stream ends. */
  readonly maxQueued: number
  /** Runs once when the stream ends, whatever ended it. */
  readonly onEnd: Effect.Effect<void>
}

export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  // nginx and its kin buffer responses by default: an event stream must go out as written
  "X-Accel-Buffering": "no"
} as const

/** `data` as one `data:` line (JSON has no raw line breaks). */
export const formatEvent = (id: string, data: unknown): string => `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`

export const eventStream = <R>(runtime: Runtime.Runtime<R>, produce: (writer: SseWriter) => Effect.Effect<void, never, R>, options: SseOptions): Response => {
  const encoder = new TextEncoder()
  let fiber: Fiber.RuntimeFiber<void> | undefined
  let closed = false
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text))
      }
      const writer: SseWriter = {
        event: (id, data) =>
          Effect.suspend(() => {
            const queued = -(controller.desiredSize ?? 0)
            return queued >= options.maxQueued ? Effect.fail(new SlowClient({ queued })) : Effect.sync(() => write(formatEvent(id, data)))
          }),
        comment: (text) => Effect.sync(() => write(`: ${text}\n\n`))
      }
      write(`retry: ${options.retryMs}\n: connected\n\n`)
      const heartbeat = Effect.forever(Effect.zipRight(Effect.sleep(options.heartbeat), writer.comment("heartbeat")))
      fiber = Runtime.runFork(runtime)(
        Effect.raceFirst(produce(writer), heartbeat).pipe(
          Effect.ensuring(
            Effect.zipRight(
              Effect.sync(() => {
                if (closed) return
                closed = true
                controller.close()
              }),
              options.onEnd
            )
          )
        )
      )
    },
    cancel() {
      closed = true
      if (fiber !== undefined) Runtime.runFork(runtime)(Fiber.interrupt(fiber))
    }
  })
  return new Response(body, { status: 200, headers: SSE_HEADERS })
}
