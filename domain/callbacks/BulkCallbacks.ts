/**
 * An operator's action on every callback request a filter matches: the
 * filter (the callbacks list's, or the ids of a page's selected rows), what to
 * do, and how far it got. Each action is an operator's event of the request's
 * state machine, so the statuses it applies to come from the transition table.
 */
import * as Schema from "effect/Schema"
import { bulkOperationOf } from "../BulkOperationShape.ts"
import { Timestamp } from "../Timestamp.ts"
import { E164 } from "./Business.ts"
import { type CallbackEvent, CallbackStatus, sourcesOf } from "./CallbackState.ts"

/** retry: failed or cancelled -> queued, from the business's own number again; cancel: not finished -> cancelled. */
export const CallbackBulkAction = Schema.Literal("retry", "cancel").annotations({
  identifier: "CallbackBulkAction",
  description:
    "retry (failed or cancelled requests are queued again, from the business's own number; not one never verified, nor one whose visitor has another active request), cancel (requests not finished)"
})
export type CallbackBulkAction = typeof CallbackBulkAction.Type

/** The event an action applies to each request (the one the single-request operator action applies). */
export const eventOf = (action: CallbackBulkAction): Extract<CallbackEvent, "adminRetry" | "cancel"> => (action === "retry" ? "adminRetry" : "cancel")

/** The statuses a request must be in for `action` to change it. */
export const statusesFor = (action: CallbackBulkAction): ReadonlyArray<CallbackStatus> => sourcesOf(eventOf(action))

/** Which requests: every one matching all the given fields (none given: every request), as the callbacks list filters them. */
/** The filters of the callbacks list that bulk operations take as they are (the list reads its phone in any format). */
export const CallbackFilterFields = {
  status: Schema.optional(CallbackStatus.annotations({ message: () => `must be one of ${CallbackStatus.literals.join(", ")}` })),
  businessId: Schema.optional(Schema.UUID.annotations({ message: () => "must be a business id" })),
  createdFrom: Schema.optional(Timestamp.annotations({ description: "only requests created at or after this instant" })),
  createdBefore: Schema.optional(Timestamp.annotations({ description: "only requests created before this instant" })),
  q: Schema.optional(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200, { message: () => "must be 1 to 200 characters" })).annotations({
      description: "only requests whose visitor's name or note contains this text (case-insensitive)"
    })
  )
}

export const BulkCallbackFilter = Schema.Struct({
  ...CallbackFilterFields,
  phone: Schema.optional(E164.annotations({ description: "the visitor's number, E.164" })),
  ids: Schema.optional(
    Schema.Array(Schema.UUID.annotations({ message: () => "must be a callback request id" }))
      .pipe(Schema.minItems(1), Schema.maxItems(500))
      .annotations({ description: "only these requests (a page's selection)" })
  )
}).annotations({ identifier: "BulkCallbackFilter" })
export type BulkCallbackFilter = typeof BulkCallbackFilter.Type

export const CallbackBulkOperation = bulkOperationOf("callbacks", CallbackBulkAction, BulkCallbackFilter, "requests", "CallbackBulkOperation")
export type CallbackBulkOperation = typeof CallbackBulkOperation.Type
