/**
 * An operator's action on every job a filter matches: the filter (the jobs
 * list's, or the ids of a page's selected rows), what to do, and how far it
 * got. Which states each action applies to comes from the job state machine.
 * A bulk operation targets jobs or callback requests
 * (domain/callbacks/BulkCallbacks.ts); both are carried out alike.
 */
import * as Schema from "effect/Schema"
import { CallbackBulkOperation } from "../callbacks/BulkCallbacks.ts"
import { bulkOperationOf } from "../BulkOperationShape.ts"
import { JobId, JobStateSchema } from "./Job.ts"
import { type JobState, sourcesOf, TerminalStates } from "./JobState.ts"

/** retry: dead, cancelled or waiting -> available now; cancel: not finished -> cancelled; delete: finished -> gone. */
export const BulkAction = Schema.Literal("retry", "cancel", "delete").annotations({
  description: "retry (discarded, cancelled or retryable jobs run again now), cancel (jobs not finished), delete (finished jobs: completed, discarded or cancelled)"
})
export type BulkAction = typeof BulkAction.Type

/** What an operator may do to one job: a bulk action, or run a waiting one now (scheduled or retryable -> available). */
export type OperatorAction = BulkAction | "runNow"

/** The states a job must be in for `action` to change it. */
export const statesFor = (action: OperatorAction): ReadonlyArray<JobState> =>
  action === "retry" ? sourcesOf("operatorRetry") : action === "cancel" ? sourcesOf("cancel") : action === "runNow" ? sourcesOf("promote") : TerminalStates

const Name = Schema.String.pipe(Schema.pattern(/^[\x21-\x7e]{1,200}$/, { message: () => "must be 1 to 200 visible ASCII characters" }))

/** Which jobs: every one matching all the given fields (none given: every job). */
export const BulkJobFilter = Schema.Struct({
  state: Schema.optional(JobStateSchema),
  queue: Schema.optional(Name),
  kind: Schema.optional(Name),
  q: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({ description: "text in the arguments" })),
  ids: Schema.optional(Schema.Array(JobId).pipe(Schema.minItems(1), Schema.maxItems(500)).annotations({ description: "only these jobs (a page's selection)" }))
}).annotations({ identifier: "BulkJobFilter" })
export type BulkJobFilter = typeof BulkJobFilter.Type

export const BulkOperation = bulkOperationOf("jobs", BulkAction, BulkJobFilter, "jobs", "BulkOperation")
export type BulkOperation = typeof BulkOperation.Type

/** What a bulk operation acts on. */
export const BulkTarget = Schema.Literal("jobs", "callbacks")
export type BulkTarget = typeof BulkTarget.Type

/** A bulk operation of either target, told apart by `target`. */
export const AnyBulkOperation = Schema.Union(BulkOperation, CallbackBulkOperation)
export type AnyBulkOperation = typeof AnyBulkOperation.Type
