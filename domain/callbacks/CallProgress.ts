/**
 * What a Twilio call status report means for an attempt and for its request.
 *
 * Twilio reports `queued -> initiated -> ringing -> in-progress -> completed`,
 * or ends early with `busy`, `no-answer`, `failed` or `canceled`. Reports can
 * arrive late, twice or out of order, so a report applies only when it ranks
 * above what the attempt already knows; an ended attempt takes no more reports.
 * `completed` means the call was answered and then ended (unanswered calls end
 * otherwise), so it implies the answer even when `in-progress` comes later or
 * never.
 */
import type * as Duration from "effect/Duration"
import type { CallbackEvent, CallbackStatus } from "./CallbackState.ts"
import { afterUnanswered, type CallbackRetryPolicy, type Position } from "./EscalationPlan.ts"

export const EndedCallStatuses = ["completed", "busy", "no-answer", "failed", "canceled"] as const
export type EndedCallStatus = (typeof EndedCallStatuses)[number]

/** An attempt's own statuses before Twilio placed its call: `placing` (Twilio not asked yet) and `unknown` (an ambiguous create). */
export const UnplacedAttemptStatuses = ["placing", "unknown"] as const

const RANK: Record<string, number> = {
  placing: 0,
  unknown: 0,
  queued: 1,
  initiated: 2,
  ringing: 3,
  "in-progress": 4,
  answered: 4,
  completed: 5,
  busy: 5,
  "no-answer": 5,
  failed: 5,
  canceled: 5
}

export const isCallStatus = (status: string): boolean => Object.hasOwn(RANK, status) && !(UnplacedAttemptStatuses as ReadonlyArray<string>).includes(status)
export const isEnded = (status: string): status is EndedCallStatus => (EndedCallStatuses as ReadonlyArray<string>).includes(status)

export interface AttemptProgress {
  readonly status: string
  readonly answered: boolean
}

/**
 * The attempt after a report of `reported`, or undefined when the report changes
 * nothing (a duplicate, a late report, or a report about an ended attempt).
 * An answered call that ends is `completed`, whatever the final report says.
 */
export const applyReport = (attempt: AttemptProgress, reported: string): AttemptProgress | undefined => {
  if (isEnded(attempt.status) || !isCallStatus(reported)) return undefined
  const status = reported === "answered" ? "in-progress" : reported
  if ((RANK[status] ?? 0) <= (RANK[attempt.status] ?? 0)) return undefined
  const answered = attempt.answered || status === "in-progress" || status === "completed"
  return { status: answered && isEnded(status) ? "completed" : status, answered }
}

/** How an ended attempt counts in `switchboard_dial_attempts_total{outcome}`. */
export const outcomeOf = (attempt: AttemptProgress): EndedCallStatus | "answered" => (attempt.answered ? "answered" : isEnded(attempt.status) ? attempt.status : "failed")

/** What the request does after one of its attempts changed. */
export type RequestStep =
  | { readonly _tag: "None" }
  | { readonly _tag: "Apply"; readonly event: "answer" | "hangUp" }
  /** Answered and already over: both events at once. */
  | { readonly _tag: "AnsweredAndEnded" }
  | { readonly _tag: "Retry"; readonly position: Position; readonly after: Duration.Duration }
  | { readonly _tag: "Escalate"; readonly position: Position }
  | { readonly _tag: "GiveUp" }

/**
 * The request's next step when its current attempt became `attempt`.
 * `levels` is the plan's length; `exhaustNumber` says the number itself was
 * refused for good (an invalid or unreachable number), so retrying it is
 * pointless and the plan moves on at once.
 */
export const nextStep = (
  request: { readonly status: CallbackStatus; readonly escalationLevel: number; readonly attemptOnNumber: number },
  attempt: AttemptProgress,
  levels: number,
  policy: CallbackRetryPolicy,
  exhaustNumber = false
): RequestStep => {
  if (request.status === "dialing") {
    if (attempt.status === "completed") return { _tag: "AnsweredAndEnded" }
    if (attempt.answered) return { _tag: "Apply", event: "answer" }
    if (!isEnded(attempt.status)) return { _tag: "None" }
    const position = { level: request.escalationLevel, attemptOnNumber: exhaustNumber ? policy.attemptsPerNumber : request.attemptOnNumber }
    return afterUnanswered(position, levels, policy)
  }
  if (request.status === "connected" && isEnded(attempt.status)) return { _tag: "Apply", event: "hangUp" }
  return { _tag: "None" }
}

/** The events a step applies to the request, in order. */
export const eventsOf = (step: RequestStep): ReadonlyArray<CallbackEvent> => {
  switch (step._tag) {
    case "None":
      return []
    case "Apply":
      return [step.event]
    case "AnsweredAndEnded":
      return ["answer", "hangUp"]
    case "Retry":
      return ["retryLater"]
    case "Escalate":
      return ["escalate"]
    case "GiveUp":
      return ["giveUp"]
  }
}

/**
 * How far a text message has come, by Twilio's MessageStatus: a status report
 * applies only when it ranks above the stored status (reports arrive out of
 * order). Ranked: queued and sending 1, sent 2, delivered, undelivered and
 * failed 3.
 */
export const MessageStatusRanks: ReadonlyArray<readonly [status: string, rank: number]> = [
  ["queued", 1],
  ["sending", 1],
  ["sent", 2],
  ["delivered", 3],
  ["undelivered", 3],
  ["failed", 3]
]

/** A message's own statuses before Twilio reported on it (`sending` here is the row written, not Twilio's `sending`). */
export const UnreportedMessageStatuses = ["sending", "unknown", "not_sent"] as const

/** The rank of a reported status; a word outside the ranks (Twilio's set grows) counts as final. */
export const reportedMessageRank = (status: string): number => MessageStatusRanks.find(([s]) => s === status)?.[1] ?? 3

/** The ranks of stored statuses; our own unreported statuses and words outside the ranks rank 0, so any report replaces them. */
export const StoredMessageStatusRanks: ReadonlyArray<readonly [status: string, rank: number]> = MessageStatusRanks.filter(
  ([status]) => !(UnreportedMessageStatuses as ReadonlyArray<string>).includes(status)
)

export const storedMessageRank = (status: string): number => StoredMessageStatusRanks.find(([s]) => s === status)?.[1] ?? 0

/** Whether a report of `reported` replaces a stored `stored`. */
export const isMessageProgress = (stored: string, reported: string): boolean => reportedMessageRank(reported) > storedMessageRank(stored)
