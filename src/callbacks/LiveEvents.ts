/**
 * Live events: the visitor's stream of one request and the operators' stream
 * of everything, over SSE (src/http/Sse.ts), read from the history tables.
 *
 * Every committed event NOTIFYs (infra/callbacks/HistoryStore.ts, migrations
 * 0008), so a change made by any process wakes every stream of every process
 * through its Notifier; a stream then reads the log from the last event it
 * sent. Nothing is pushed from memory, so a stream can neither skip nor repeat
 * an event, and a client that reconnects with `Last-Event-ID` resumes exactly
 * where it stopped. A lost notification costs latency only: streams also
 * re-read every `SAFETY_POLL`.
 *
 * - Visitor: events of one request, by `seq` (its SSE id). A request's events
 *   commit in `seq` order, so reading `seq > last` misses none.
 * - Operator: request and operational events in the global (tx, position)
 *   order (SSE id `tx.position`), optionally of one business. Events are only
 *   readable below the oldest running transaction, so after a wake-up a
 *   stream that sees committed events still hidden polls until they show.
 *
 * Each process serves at most SSE_MAX_STREAMS streams (503 past it); streams
 * end when draining begins, so shutdown never waits on them.
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { HistoryEvent } from "../../domain/callbacks/History.ts"
import { OperationalEvent } from "../../domain/OperationalEvents.ts"
import { streamTokenMatches } from "../../infra/callbacks/Codes.ts"
import { type AnyEvent, type Cursor, EVENTS_WAKEUP, HistoryStore, parseCursor, requestWakeup, START } from "../../infra/callbacks/HistoryStore.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { duration, integer } from "../../infra/config/Env.ts"
import { Notifier } from "../../infra/jobs/Notifier.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { Lifecycle } from "../../supervisors/Lifecycle.ts"
import { Forbidden, NotFound, Unauthorized, Unavailable } from "../http/Problems.ts"
import { eventStream, SSE_HEADERS, type SseWriter } from "../http/Sse.ts"

export type StreamKind = "visitor" | "operator"

export const LiveEventsConfig = Config.all({
  maxStreams: integer("SSE_MAX_STREAMS", 1000, 1, 100_000, "live event streams one process serves at once; past it a stream is refused with a 503"),
  heartbeat: duration("SSE_HEARTBEAT", "15 seconds", "how often an idle event stream sends a heartbeat comment", { min: "100 millis", max: "5 minutes" })
})

/** Events read per query; a full page is followed by the next at once. */
const PAGE = 100
/** Re-read this often even without a notification (one lost in a reconnect of the listener). */
const SAFETY_POLL = Duration.seconds(30)
/** While committed events are hidden behind a running transaction, re-read this often. */
const HORIZON_POLL = Duration.millis(100)
/** What a client is told to wait before reconnecting. */
const RETRY_MS = 2_000
/** Chunks a client may leave unread before its stream ends (it resumes with Last-Event-ID). */
const MAX_QUEUED = 256

const encodeAny = Schema.encodeSync(Schema.Union(HistoryEvent, OperationalEvent))

export class LiveEvents extends Effect.Service<LiveEvents>()("switchboard/callbacks/LiveEvents", {
  effect: Effect.gen(function* () {
    const config = yield* LiveEventsConfig
    const metrics = yield* Metrics
    const lifecycle = yield* Lifecycle
    const notifier = yield* Notifier
    const history = yield* HistoryStore
    const requests = yield* RequestStore
    let open = 0

    const refuse = (kind: StreamKind, reason: string) => Effect.sync(() => metrics.sseRefused.inc({ kind, reason }))

    /** Takes a slot, or fails with a 503 when the process serves its maximum (or is shutting down). */
    const admit = (kind: StreamKind) =>
      Effect.gen(function* () {
        if (yield* lifecycle.draining) {
          yield* refuse(kind, "draining")
          return yield* new Unavailable({ detail: "this process is shutting down; reconnect to another", retryAfterSeconds: 1 })
        }
        if (open >= config.maxStreams) {
          yield* refuse(kind, "full")
          return yield* new Unavailable({ detail: `this process serves its maximum of ${config.maxStreams} live streams; retry later`, retryAfterSeconds: 5 })
        }
        open++
        metrics.sseStreams.inc({ kind })
      })

    const release = (kind: StreamKind) =>
      Effect.sync(() => {
        open--
        metrics.sseStreams.dec({ kind })
      })

    /**
     * Runs `step` (which reads and sends what is new, and says whether to read again at once, soon,
     * or on the next wake-up) until the client leaves, the stream is too far behind, the database
     * fails (the client reconnects and resumes) or draining begins.
     */
    const pump = (kind: StreamKind, wakeup: string, step: (writer: SseWriter) => Effect.Effect<"again" | "soon" | "idle", unknown>) => (writer: SseWriter) =>
      Effect.scoped(
        Effect.gen(function* () {
          const wake = yield* Effect.makeLatch(true)
          yield* notifier.subscribe(wakeup, () => wake.unsafeOpen())
          let hiddenFor = 0
          for (;;) {
            yield* wake.close
            const next = yield* step(writer)
            hiddenFor = next === "soon" ? hiddenFor + 1 : 0
            // 100 ms, 200 ms, ... up to 3.2 s while a long transaction holds the horizon back
            if (next === "soon") yield* Effect.sleep(Duration.times(HORIZON_POLL, 2 ** Math.min(hiddenFor - 1, 5)))
            else if (next === "idle") yield* Effect.ignore(Effect.timeout(wake.await, SAFETY_POLL))
          }
        })
      ).pipe(
        Effect.catchAll((error) =>
          Effect.logDebug(`${kind} event stream ended: ${error instanceof Error ? error.message : String(error)}`)
        ),
        Effect.raceFirst(lifecycle.whenDraining)
      )

    const send = (kind: StreamKind, writer: SseWriter, events: ReadonlyArray<AnyEvent>, idOf: (event: AnyEvent) => string) =>
      Effect.forEach(events, (event) => Effect.zipRight(writer.event(idOf(event), encodeAny(event)), Effect.sync(() => metrics.sseEventsSent.inc({ kind }))), {
        discard: true
      })

    const serve = (kind: StreamKind, wakeup: string, step: (writer: SseWriter) => Effect.Effect<"again" | "soon" | "idle", unknown>, headOnly: boolean) =>
      Effect.gen(function* () {
        // a HEAD's body is dropped unread: it must not hold a slot and a reader until shutdown
        if (headOnly) return new Response(null, { status: 200, headers: SSE_HEADERS })
        yield* admit(kind)
        const runtime = yield* Effect.runtime<never>()
        return eventStream(runtime, pump(kind, wakeup, step), { heartbeat: config.heartbeat, retryMs: RETRY_MS, maxQueued: MAX_QUEUED, onEnd: release(kind) })
      })

    /**
     * The visitor's stream of request `id`, opened with its stream token; after `lastSeq` (the
     * `Last-Event-ID` of a reconnect), else from its first event.
     */
    const visitor = (id: string, token: string | undefined, lastSeq: number, headOnly = false) =>
      Effect.gen(function* () {
        if (token === undefined) {
          yield* refuse("visitor", "unauthorized")
          return yield* new Unauthorized({ detail: "a request's stream needs its stream token (?token=, or Authorization: Bearer), answered by the create" })
        }
        const access = yield* requests.streamAccess(id)
        if (Option.isNone(access)) {
          yield* refuse("visitor", "not_found")
          return yield* new NotFound({ detail: `no callback request ${id}` })
        }
        if (access.value.tokenHash === undefined || !streamTokenMatches(token, access.value.tokenHash)) {
          yield* refuse("visitor", "forbidden")
          return yield* new Forbidden({ detail: "the stream token is not this request's" })
        }
        let last = lastSeq
        return yield* serve("visitor", requestWakeup(id), (writer) =>
          Effect.gen(function* () {
            const events = yield* history.ofRequest(id, last, PAGE)
            yield* send("visitor", writer, events, (event) => String((event as HistoryEvent).seq))
            last = events[events.length - 1]?.seq ?? last
            return events.length === PAGE ? "again" : "idle"
          }),
          headOnly
        )
      })

    /** The operators' stream: every event (of `businessId` when given), after `from`, else from now on. */
    const operator = (businessId: string | undefined, from: Cursor | undefined, headOnly = false) =>
      Effect.gen(function* () {
        let cursor = from ?? (headOnly ? START : yield* history.head)
        const filter = { businessId, limit: PAGE }
        return yield* serve("operator", EVENTS_WAKEUP, (writer) =>
          Effect.gen(function* () {
            const events = yield* history.everythingAfter(cursor, filter)
            yield* send("operator", writer, events, (event) => event.position)
            const last = events[events.length - 1]
            if (last !== undefined) cursor = parseCursor(last.position) ?? cursor
            if (events.length === PAGE) return "again"
            return (yield* history.hiddenAfter(cursor, filter)) ? "soon" : "idle"
          }),
          headOnly
        )
      })

    return { visitor, operator, openStreams: Effect.sync(() => open) }
  })
}) {}
