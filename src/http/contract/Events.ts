/**
 * Live events over SSE (src/callbacks/LiveEvents.ts): the visitor's stream of
 * one request and the operators' stream of everything. Each `data:` line is
 * one event as JSON: a `CallbackEvent` (the same as `GET
 * /v1/callbacks/{id}/events` lists) or, on the operators' stream, an
 * `OperationalEvent`. See docs/events.md.
 */
import * as Schema from "effect/Schema"
import { HistoryEvent } from "../../../domain/callbacks/History.ts"
import { OperationalEvent } from "../../../domain/OperationalEvents.ts"
import { route } from "../Contract.ts"
import { IdParams, Limit, Page } from "./Fields.ts"

const streamResponse = (what: string, events: Schema.Schema.AnyNoContext) => ({
  200: {
    events,
    description: `${what}: \`text/event-stream\`, one JSON event per \`data:\` line, its \`id:\` the resume point; a comment every 15 s while idle`,
    contentType: "text/event-stream",
    text: true
  }
})

const Position = Schema.String.pipe(Schema.pattern(/^\d{1,20}\.\d{1,19}$/, { message: () => "must be an event's `position` (`<tx>.<position>`)" }))

const StreamToken = Schema.String.pipe(Schema.pattern(/^cst_[A-Za-z0-9_-]{43}$/, { message: () => "must be the request's stream token (cst_...)" }))

export const VisitorStreamQuery = Schema.Struct({
  token: Schema.optional(StreamToken.annotations({ description: "the request's stream token, answered once by the create (`streamToken`); or send it as `Authorization: Bearer`" }))
})

export const VisitorStreamHeaders = Schema.Struct({
  Authorization: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^Bearer +cst_[A-Za-z0-9_-]{43} *$/i, { message: () => "must be Bearer and the request's stream token" })).annotations({
      description: "`Bearer <stream token>`, for clients that can set headers"
    })
  ),
  "Last-Event-ID": Schema.optional(
    Schema.compose(Schema.String.pipe(Schema.pattern(/^\d{1,9}$/, { message: () => "must be the id of an event of this stream (its seq)" })), Schema.NumberFromString).annotations({
      description: "resume after this event (`seq`): sent by EventSource when it reconnects"
    })
  )
})

export const OperatorStreamQuery = Schema.Struct({
  businessId: Schema.optional(Schema.UUID.annotations({ description: "only this business's events (operational events of no business are left out)" }))
})

export const OperatorStreamHeaders = Schema.Struct({
  "Last-Event-ID": Schema.optional(
    Position.annotations({
      description: "resume after this event: sent by EventSource when it reconnects; without it the stream starts with the next event"
    })
  )
})

/** An event of the operators' stream and log. */
export const StreamedEvent = Schema.Union(HistoryEvent, OperationalEvent).annotations({ identifier: "StreamedEvent" })

export const EventLogQuery = Schema.Struct({
  after: Schema.optional(Position.annotations({ description: "only the events after this one (its `position`); from the oldest kept without it" })),
  businessId: Schema.optional(Schema.UUID.annotations({ description: "only this business's events" })),
  limit: Limit(100, 1000)
})

export const EventLogPage = Page(StreamedEvent, "EventLogPage").annotations({
  description: "`nextCursor` is the `after` of the next page; the last page has none (ask again later with the last event's position)"
})

export const streamCallback = route({
  method: "get",
  path: "/v1/callbacks/{id}/stream",
  operationId: "streamCallbackEvents",
  summary: "A callback request's events, live (server-sent events).",
  description:
    "Opens with every event so far (or those after `Last-Event-ID`), then each new one as it commits, whichever process made it. " +
    "Needs the request's stream token: 401 without it, 403 with another. 503 with Retry-After when this process serves its maximum of streams or is shutting down.",
  tags: ["callbacks", "events"],
  params: IdParams,
  query: VisitorStreamQuery,
  headers: VisitorStreamHeaders,
  responses: streamResponse("The request's events (`CallbackEvent`), ids are their `seq`", HistoryEvent),
  problems: ["validation", "unauthorized", "forbidden", "not-found", "unavailable"]
})

export const streamEvents = route({
  method: "get",
  path: "/admin/api/events",
  operationId: "streamAdminEvents",
  summary: "Every callback and job event, live (server-sent events), for operators.",
  description:
    "Request events (`CallbackEvent`) and operational events (`OperationalEvent`: job failures, give-ups, cancellations, rescues, operator retries, " +
    "webhook endpoints disabled) in one order; ids are `<tx>.<position>`. Starts with the next event, or after `Last-Event-ID`.",
  tags: ["admin", "events"],
  security: "admin",
  query: OperatorStreamQuery,
  headers: OperatorStreamHeaders,
  responses: streamResponse("Events (`StreamedEvent`), ids are their `position`", StreamedEvent),
  problems: ["validation", "unauthorized", "forbidden", "unavailable"]
})

export const listEvents = route({
  method: "get",
  path: "/admin/api/event-log",
  operationId: "listAdminEvents",
  summary: "Every callback and job event, a page at a time, in the operators' stream's order.",
  description: "The same events and order as `GET /admin/api/events`, as JSON pages: for catching up, or for clients that cannot hold a stream open.",
  tags: ["admin", "events"],
  security: "admin",
  query: EventLogQuery,
  responses: { 200: { description: "A page of events, oldest first", schema: EventLogPage } },
  problems: ["validation", "unauthorized", "forbidden", "unavailable"]
})

export const eventRoutesContract = [streamCallback, streamEvents, listEvents]
