/**
 * The job lifecycle as data.
 *
 * ```
 *   scheduled ──promote──► available ──claim──► running ──complete──► completed
 *   retryable ──promote──► available            running ──retry─────► retryable
 *                                               running ──discard───► discarded  (permanent, or out of attempts)
 *                                               running ──snooze────► scheduled  (no attempt spent)
 *                                               running ──rescue────► available  (its process died)
 *                                               running ──handBack──► available  (shutdown; no attempt spent)
 *   scheduled | available | running | retryable ──cancel──► cancelled
 *   discarded | cancelled | retryable ──operatorRetry──► available
 * ```
 *
 * Every SQL statement that changes `jobs.state` takes its source states from
 * {@link sourcesOf}, so the database can only ever make the moves listed here.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"

export const JobStates = [
  "scheduled",
  "available",
  "running",
  "retryable",
  "completed",
  "discarded",
  "cancelled"
] as const
export type JobState = (typeof JobStates)[number]

/** States a job never leaves through the engine's own work (only an operator's retry revives one). */
export const TerminalStates: ReadonlyArray<JobState> = ["completed", "discarded", "cancelled"]
export const isTerminal = (state: JobState): boolean => TerminalStates.includes(state)

export type JobEvent =
  | "promote" // run_at reached
  | "claim" // a worker took it (spends an attempt)
  | "complete"
  | "retry" // failed, will run again after backoff
  | "discard" // permanent failure or attempts exhausted: the dead-letter set
  | "snooze" // deferred without spending an attempt
  | "rescue" // its process died; back to available (or discarded when out of attempts)
  | "handBack" // returned at shutdown without spending the attempt
  | "cancel"
  | "operatorRetry" // an operator revives a dead or waiting job

/** The legal transitions: event -> (from -> to). */
export const Transitions: { readonly [E in JobEvent]: Partial<Record<JobState, JobState>> } = {
  promote: { scheduled: "available", retryable: "available" },
  claim: { available: "running" },
  complete: { running: "completed" },
  retry: { running: "retryable" },
  discard: { running: "discarded" },
  snooze: { running: "scheduled" },
  rescue: { running: "available" },
  handBack: { running: "available" },
  cancel: { scheduled: "cancelled", available: "cancelled", running: "cancelled", retryable: "cancelled" },
  operatorRetry: { discarded: "available", cancelled: "available", retryable: "available" }
}

export class IllegalTransition extends Data.TaggedError("IllegalTransition")<{
  readonly from: JobState
  readonly event: JobEvent
}> {
  override get message(): string {
    return `a ${this.from} job cannot ${this.event}`
  }
}

export const transition = (from: JobState, event: JobEvent): Either.Either<JobState, IllegalTransition> => {
  const to = Transitions[event][from]
  return to === undefined ? Either.left(new IllegalTransition({ from, event })) : Either.right(to)
}

/** The states an event may start from: the `WHERE state = ANY(...)` of the statement that applies it. */
export const sourcesOf = (event: JobEvent): ReadonlyArray<JobState> =>
  JobStates.filter((state) => Transitions[event][state] !== undefined)

/** The state an event leads to (each event has exactly one target). */
export const targetOf = (event: JobEvent): JobState => {
  const targets = new Set(Object.values(Transitions[event]))
  const [only] = targets
  if (targets.size !== 1 || only === undefined) throw new Error(`event ${event} has ${targets.size} targets`)
  return only
}

/** The state a fresh job starts in. */
export const initialState = (runAtInFuture: boolean): JobState => (runAtInFuture ? "scheduled" : "available")
