/**
 * The lifecycle of a callback request, as data.
 *
 * ```
 *   pending_verification ──verify──► queued ──dial──► dialing ──answer──► connected ──hangUp──► completed
 *   pending_verification ──expire──► expired
 *   dialing ──retryLater──► retry_scheduled ──dial──► dialing      (busy / no answer / failed, attempts left on this number)
 *   dialing ──escalate────► escalated       ──dial──► dialing      (this number exhausted, a backup number left)
 *   dialing ──giveUp──────► failed                                 (every number exhausted; one SMS fallback)
 *   pending_verification | queued | retry_scheduled | escalated | dialing ──cancel──► cancelled
 *   failed | cancelled ──adminRetry──► queued
 * ```
 *
 * Twilio reports a call's progress late, twice or out of order. Status events
 * apply only when they move a request forward ({@link isForward}); a terminal
 * state is final except for an administrator's retry.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

export const CallbackStatuses = [
  "pending_verification",
  "queued",
  "dialing",
  "retry_scheduled",
  "escalated",
  "connected",
  "completed",
  "failed",
  "cancelled",
  "expired"
] as const
export const CallbackStatus = Schema.Literal(...CallbackStatuses).annotations({ identifier: "CallbackStatus" })
export type CallbackStatus = typeof CallbackStatus.Type

export const isCallbackStatus = (value: string): value is CallbackStatus => (CallbackStatuses as ReadonlyArray<string>).includes(value)

export const TerminalStatuses: ReadonlyArray<CallbackStatus> = ["completed", "failed", "cancelled", "expired"]
export const isTerminal = (status: CallbackStatus): boolean => TerminalStatuses.includes(status)

/** Requests that hold a (business, phone) pair: a second request for the pair is a conflict while one is active. */
export const isActive = (status: CallbackStatus): boolean => !isTerminal(status)

export type CallbackEvent =
  | "verify" // the visitor entered the right code
  | "expire" // the code was never entered in time
  | "dial" // an attempt starts: the call to the business is placed
  | "answer" // the business picked up; the visitor is being bridged
  | "hangUp" // the bridged call ended
  | "retryLater" // busy, no answer or failed, with attempts left on this number
  | "escalate" // this number is exhausted; the next one in the chain is next
  | "giveUp" // every number is exhausted
  | "cancel"
  | "adminRetry" // an administrator revives a failed or cancelled request

export const Transitions: { readonly [E in CallbackEvent]: Partial<Record<CallbackStatus, CallbackStatus>> } = {
  verify: { pending_verification: "queued" },
  expire: { pending_verification: "expired" },
  dial: { queued: "dialing", retry_scheduled: "dialing", escalated: "dialing" },
  answer: { dialing: "connected" },
  hangUp: { connected: "completed" },
  retryLater: { dialing: "retry_scheduled" },
  escalate: { dialing: "escalated" },
  giveUp: { dialing: "failed" },
  cancel: { pending_verification: "cancelled", queued: "cancelled", retry_scheduled: "cancelled", escalated: "cancelled", dialing: "cancelled" },
  adminRetry: { failed: "queued", cancelled: "queued" }
}

export class IllegalCallbackTransition extends Data.TaggedError("IllegalCallbackTransition")<{
  readonly from: CallbackStatus
  readonly event: CallbackEvent
}> {
  override get message(): string {
    return `a ${this.from} callback request cannot ${this.event}`
  }
}

export const transition = (from: CallbackStatus, event: CallbackEvent): Either.Either<CallbackStatus, IllegalCallbackTransition> => {
  const to = Transitions[event][from]
  return to === undefined ? Either.left(new IllegalCallbackTransition({ from, event })) : Either.right(to)
}

/** The statuses an event may start from (the `WHERE status = ANY(...)` of the statement applying it). */
export const sourcesOf = (event: CallbackEvent): ReadonlyArray<CallbackStatus> =>
  CallbackStatuses.filter((status) => Transitions[event][status] !== undefined)

/**
 * How far one attempt has come: a status event may only raise it. A retry or
 * an escalation starts a new attempt, so progress is per attempt.
 */
const progress: Partial<Record<CallbackStatus, number>> = { dialing: 1, connected: 2, completed: 3, retry_scheduled: 3, escalated: 3, failed: 3 }

/** Whether moving from `from` to `to` within one attempt is progress (never true out of a terminal status). */
export const isForward = (from: CallbackStatus, to: CallbackStatus): boolean =>
  !isTerminal(from) && (progress[to] ?? 0) > (progress[from] ?? 0)
