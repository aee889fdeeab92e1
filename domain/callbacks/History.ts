/**
 * A callback request's history: one immutable event per change, numbered
 * 1, 2, 3, ... per request (`seq`), with a global position. The request's row
 * holds where it stands now; the history says how it got there, and is what
 * live streams, outbound webhooks and the 24-hour stats read.
 *
 * Each event type has its own payload (`data`); an event that moves the
 * request through the state machine (domain/callbacks/CallbackState.ts) is
 * named after where it went, and every event records the status the request
 * had once it happened, so the history replays to the request's status
 * ({@link replay}).
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"
import { type CallbackEvent, CallbackStatus, transition } from "./CallbackState.ts"

const AttemptRef = {
  attemptId: Schema.UUID.annotations({ description: "the call attempt (its id rides in Twilio's StatusCallback URL)" })
}

/** Marks a move the answering agent caused by declining in the call flow's menu (the request goes on as if unanswered). */
const Declined = {
  declined: Schema.optional(Schema.Boolean.annotations({ description: "the answering agent declined in the call flow's menu" }))
}

/** Each event type and its payload. */
export const EventPayloads = {
  "callback.created": Schema.Struct({ priority: Schema.Literal("normal", "high") }),
  "callback.code_sent": Schema.Struct({ messageId: Schema.UUID }),
  "callback.verified": Schema.Struct({
    scheduledFor: Timestamp.annotations({ description: "when the first call is due" }),
    afterHours: Schema.optional(Schema.Boolean.annotations({ description: "verified while its department was closed: called on the after-hours chain now" }))
  }),
  "callback.expired": Schema.Struct({}),
  "callback.dialing": Schema.Struct({
    ...AttemptRef,
    level: Schema.Int.annotations({ description: "0: the business's own number; 1, 2, ...: its backups in order" }),
    attemptOnNumber: Schema.Int.annotations({ description: "1 for the first call to this number" }),
    to: Schema.String.annotations({ description: "the number called, in E.164" })
  }),
  "callback.dial_taken_back": Schema.Struct({ ...AttemptRef, reason: Schema.String }),
  "call.placed": Schema.Struct({ ...AttemptRef, callSid: Schema.String }),
  "call.status": Schema.Struct({
    ...AttemptRef,
    callStatus: Schema.String.annotations({ description: "Twilio's CallStatus as the attempt now has it (queued ... completed, busy, no-answer, failed, canceled)" }),
    answered: Schema.Boolean,
    error: Schema.optional(Schema.String)
  }),
  "callback.connected": Schema.Struct({ ...AttemptRef }),
  "callback.retry_scheduled": Schema.Struct({ nextAttemptAt: Timestamp, ...Declined }),
  "callback.escalated": Schema.Struct({ level: Schema.Int.annotations({ description: "the backup number called next (1 = the first backup)" }), ...Declined }),
  "callback.routed": Schema.Struct({
    from: Schema.String.annotations({ description: "the department it was with (`main`: the business's own)" }),
    to: Schema.String.annotations({ description: "the department it is with now; its chain is called from its first number" }),
    by: Schema.Literal("agent", "operator").annotations({ description: "the answering agent's keypad, or an operator" }),
    attemptId: Schema.optional(Schema.UUID.annotations({ description: "the call in progress when it was moved" })),
    routes: Schema.Int.annotations({ description: "moves so far, this one included" }),
    afterHours: Schema.optional(Schema.Boolean.annotations({ description: "moved while that department was closed: called on its after-hours chain" }))
  }),
  "callback.completed": Schema.Struct({}),
  "callback.failed": Schema.Struct({ ...Declined }),
  "callback.cancelled": Schema.Struct({}),
  "callback.retried": Schema.Struct({ generation: Schema.Int.annotations({ description: "bumped by each operator retry" }) }),
  "sms.sent": Schema.Struct({ messageId: Schema.UUID, kind: Schema.Literal("circuit_notice", "fallback") }),
  "callback.budget_exhausted": Schema.Struct({
    channel: Schema.Literal("sms", "call").annotations({ description: "what waits: a call (a dial) or a text (a notice or the fallback)" }),
    scope: Schema.Literal("business", "account").annotations({ description: "whose budget ran out: this business's or the whole account's" }),
    retryAt: Timestamp.annotations({ description: "when the budget has room again and the job tries again" })
  })
} as const

export type HistoryEventType = keyof typeof EventPayloads
export const HistoryEventTypes = Object.keys(EventPayloads) as ReadonlyArray<HistoryEventType>
export const HistoryEventType = Schema.Literal(...HistoryEventTypes).annotations({ identifier: "CallbackEventType" })

export type PayloadOf<T extends HistoryEventType> = Schema.Schema.Type<(typeof EventPayloads)[T]>
export type PayloadEncoded<T extends HistoryEventType> = Schema.Schema.Encoded<(typeof EventPayloads)[T]>

/** The history event each state-machine move is recorded as (the status it leads to names it). */
export const MoveTypes: { readonly [E in CallbackEvent]: HistoryEventType } = {
  verify: "callback.verified",
  expire: "callback.expired",
  dial: "callback.dialing",
  takeBack: "callback.dial_taken_back",
  answer: "callback.connected",
  hangUp: "callback.completed",
  retryLater: "callback.retry_scheduled",
  escalate: "callback.escalated",
  giveUp: "callback.failed",
  route: "callback.routed",
  cancel: "callback.cancelled",
  adminRetry: "callback.retried"
}

/** The state-machine move behind a history event type; none for events that change no status. */
const moveOf = new Map<HistoryEventType, CallbackEvent>(Object.entries(MoveTypes).map(([move, type]) => [type, move as CallbackEvent]))

const common = {
  id: Schema.UUID.annotations({ description: "the event's own id: stable, the same in the history, the streams and every webhook delivery (`webhook-id`)" }),
  callbackId: Schema.UUID,
  businessId: Schema.UUID,
  seq: Schema.Int.annotations({ description: "1, 2, 3, ... within the request, with no gap" }),
  position: Schema.String.annotations({
    description: "the event's place in the global history (`<transaction>.<sequence>`): a cursor, compared by the order events are listed in, not as a number"
  }),
  status: CallbackStatus.annotations({ description: "the request's status once this happened" }),
  at: Timestamp
}

const eventOf = <T extends HistoryEventType>(type: T) =>
  Schema.Struct({ ...common, type: Schema.Literal(type), data: EventPayloads[type] }).annotations({ identifier: `CallbackEvent_${type.replace(/\./g, "_")}` })

/** One event of a request's history. */
export const HistoryEvent = Schema.Union(...HistoryEventTypes.map(eventOf)).annotations({
  identifier: "CallbackEvent",
  description: "one change of a callback request; `type` says which, `data` its details"
})
export type HistoryEvent = typeof HistoryEvent.Type

/** Why a history does not replay. */
export interface ReplayError {
  readonly seq: number
  readonly reason: string
}

/**
 * Replays a request's events (in `seq` order) through the state machine: the
 * status it ends in, or the first event that breaks the story (a gap in `seq`,
 * a move the transition table does not allow, a recorded status that is not
 * where the move leads, a status changed by an event that moves nothing).
 */
export const replay = (events: ReadonlyArray<Pick<HistoryEvent, "seq" | "type" | "status">>): Either.Either<CallbackStatus, ReplayError> => {
  const [first] = events
  if (first === undefined) return Either.left({ seq: 0, reason: "no events" })
  if (first.type !== "callback.created" || first.seq !== 1) return Either.left({ seq: first.seq, reason: "the history does not start with callback.created at seq 1" })
  let status: CallbackStatus = first.status
  for (const [i, event] of events.entries()) {
    if (event.seq !== i + 1) return Either.left({ seq: event.seq, reason: `expected seq ${i + 1}` })
    if (i === 0) continue
    const move = moveOf.get(event.type)
    if (move === undefined) {
      if (event.status !== status) return Either.left({ seq: event.seq, reason: `${event.type} changes no status, but records ${event.status} after ${status}` })
      continue
    }
    const next = transition(status, move, event.status)
    if (Either.isLeft(next)) return Either.left({ seq: event.seq, reason: next.left.message })
    status = next.right
  }
  return Either.right(status)
}
