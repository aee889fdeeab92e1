/**
 * The lifecycle of a callback request, as data.
 *
 * ```
 *   pending_verification ──verify──► queued ──dial──► dialing ──answer──► connected ──hangUp──► completed
 *   pending_verification ──expire──► expired
 *   dialing ──retryLater──► retry_scheduled ──dial──► dialing      (busy / no answer / failed, attempts left on this number)
 *   dialing ──escalate────► escalated       ──dial──► dialing      (this number exhausted, a backup number left)
 *   dialing ──giveUp──────► failed                                 (every number exhausted; one SMS fallback)
 *   connected ──retryLater | escalate | giveUp──► ...               (the agent declined in the flow's menu: as if
 *                                                                  unanswered)
 *   dialing | connected ──route──► escalated                       (the agent's key or an operator sends it to another
 *                                                                  department: its chain from the first number)
 *   dialing ──takeBack────► queued | retry_scheduled | escalated   (the call was never placed: back to the
 *                                                                  status its attempt started from)
 *   pending_verification | queued | retry_scheduled | escalated | dialing ──cancel──► cancelled
 *   failed | cancelled ──adminRetry──► queued
 * ```
 *
 * Most events lead to one status whatever they start from; `takeBack` leads to
 * one of several, and whoever applies it names which ({@link transition}'s `to`).
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

export const TerminalStatuses: ReadonlyArray<CallbackStatus> = ["completed", "failed", "cancelled", "expired"]
export const isTerminal = (status: CallbackStatus): boolean => TerminalStatuses.includes(status)

/** Requests that hold a (business, phone) pair: a second request for the pair is a conflict while one is active. */
export const isActive = (status: CallbackStatus): boolean => !isTerminal(status)

export type CallbackEvent =
  | "verify" // the visitor entered the right code
  | "expire" // the code was never entered in time
  | "dial" // an attempt starts: the call to the business is placed
  | "takeBack" // the attempt's call was never placed: the request returns to where the attempt found it
  | "answer" // the business picked up; the visitor is being bridged
  | "hangUp" // the bridged call ended
  | "retryLater" // busy, no answer or failed, with attempts left on this number
  | "escalate" // this number is exhausted; the next one in the chain is next
  | "giveUp" // every number is exhausted
  | "route" // moved to another department during its call: that department's chain is next
  | "cancel"
  | "adminRetry" // an administrator revives a failed or cancelled request

/** The legal transitions: event -> (from -> the statuses it may lead to). */
export const Transitions: { readonly [E in CallbackEvent]: Partial<Record<CallbackStatus, ReadonlyArray<CallbackStatus>>> } = {
  verify: { pending_verification: ["queued"] },
  expire: { pending_verification: ["expired"] },
  dial: { queued: ["dialing"], retry_scheduled: ["dialing"], escalated: ["dialing"] },
  takeBack: { dialing: ["queued", "retry_scheduled", "escalated"] },
  answer: { dialing: ["connected"] },
  hangUp: { connected: ["completed"] },
  retryLater: { dialing: ["retry_scheduled"], connected: ["retry_scheduled"] },
  escalate: { dialing: ["escalated"], connected: ["escalated"] },
  giveUp: { dialing: ["failed"], connected: ["failed"] },
  route: { dialing: ["escalated"], connected: ["escalated"] },
  cancel: { pending_verification: ["cancelled"], queued: ["cancelled"], retry_scheduled: ["cancelled"], escalated: ["cancelled"], dialing: ["cancelled"] },
  adminRetry: { failed: ["queued"], cancelled: ["queued"] }
}

export class IllegalCallbackTransition extends Data.TaggedError("IllegalCallbackTransition")<{
  readonly from: CallbackStatus
  readonly event: CallbackEvent
  /** The status asked for, for an event that may lead to several. */
  readonly to?: CallbackStatus | undefined
}> {
  override get message(): string {
    if (this.to !== undefined) return `a ${this.from} callback request cannot ${this.event} to ${this.to}`
    const targets = Transitions[this.event][this.from] ?? []
    return targets.length > 1
      ? `a ${this.from} callback request can ${this.event} to ${targets.join(", ")}: which one must be said`
      : `a ${this.from} callback request cannot ${this.event}`
  }
}

/**
 * The status `event` moves a request in `from` to. `to` names the target of an
 * event that may lead to several (`takeBack`: the status its attempt started
 * from); for any other event it may be left out, and when given must be the one.
 */
export const transition = (from: CallbackStatus, event: CallbackEvent, to?: CallbackStatus): Either.Either<CallbackStatus, IllegalCallbackTransition> => {
  const targets = Transitions[event][from] ?? []
  const target = to ?? (targets.length === 1 ? targets[0] : undefined)
  return target !== undefined && targets.includes(target) ? Either.right(target) : Either.left(new IllegalCallbackTransition({ from, event, to }))
}

/**
 * The statuses an event may start from (the `WHERE status = ANY(...)` of the
 * statement applying it); with `to`, only those from which it may lead there.
 */
export const sourcesOf = (event: CallbackEvent, to?: CallbackStatus): ReadonlyArray<CallbackStatus> =>
  CallbackStatuses.filter((status) => (Transitions[event][status] ?? []).some((target) => to === undefined || target === to))

/** The statuses an event may lead to, from any status, in the order of {@link CallbackStatuses}. */
export const targetsOf = (event: CallbackEvent): ReadonlyArray<CallbackStatus> =>
  CallbackStatuses.filter((status) => Object.values(Transitions[event]).some((targets) => targets.includes(status)))

/**
 * How far one attempt has come: a status event may only raise it. A retry or
 * an escalation starts a new attempt, so progress is per attempt.
 */
const progress: Partial<Record<CallbackStatus, number>> = { dialing: 1, connected: 2, completed: 3, retry_scheduled: 3, escalated: 3, failed: 3 }

/** Whether moving from `from` to `to` within one attempt is progress (never true out of a terminal status). */
export const isForward = (from: CallbackStatus, to: CallbackStatus): boolean =>
  !isTerminal(from) && (progress[to] ?? 0) > (progress[from] ?? 0)
