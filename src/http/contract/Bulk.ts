/**
 * Bulk operations on jobs and on callback requests (src/jobs/BulkOperations.ts):
 * count what a filter matches, start an action on all of it (carried out by a
 * job, in batches), and follow it. The two targets have routes of the same
 * shape: `/admin/api/bulk-operations` for jobs, `/admin/api/callback-bulk-operations`
 * for callback requests.
 */
import * as Schema from "effect/Schema"
import { BulkCallbackFilter, CallbackBulkAction, CallbackBulkOperation } from "../../../domain/callbacks/BulkCallbacks.ts"
import { BulkAction, BulkJobFilter, BulkOperation } from "../../../domain/jobs/BulkOperation.ts"
import { route } from "../Contract.ts"
import { IdParams } from "./Fields.ts"

export const BulkPreviewBody = Schema.Struct({ action: BulkAction, filter: BulkJobFilter }).annotations({ identifier: "BulkPreviewRequest" })

export const BulkPreview = Schema.Struct({
  matched: Schema.Int.annotations({ description: "the jobs (or callback requests) the filter matches now" }),
  applicable: Schema.Int.annotations({ description: "of those, the ones in a state the action applies to: what it would change now" })
}).annotations({ identifier: "BulkPreview" })

const ExpectedCount = Schema.optional(
  Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "the `matched` count the operator confirmed: a different count now is refused (409), nothing is changed" })
)

export const BulkStartBody = Schema.Struct({ action: BulkAction, filter: BulkJobFilter, expectedCount: ExpectedCount }).annotations({ identifier: "BulkStartRequest" })

export const CallbackBulkPreviewBody = Schema.Struct({ action: CallbackBulkAction, filter: BulkCallbackFilter }).annotations({ identifier: "CallbackBulkPreviewRequest" })

export const CallbackBulkStartBody = Schema.Struct({ action: CallbackBulkAction, filter: BulkCallbackFilter, expectedCount: ExpectedCount }).annotations({
  identifier: "CallbackBulkStartRequest"
})

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["jobs"]
const callbackTags = ["admin-callbacks"]

export const previewBulk = route({
  method: "post",
  path: "/admin/api/bulk-operations/preview",
  operationId: "previewBulkOperation",
  summary: "How many jobs a filter matches now, and how many of them an action would change.",
  tags,
  security: "admin",
  body: { schema: BulkPreviewBody, excess: "error" },
  responses: { 200: { description: "The counts", schema: BulkPreview } },
  problems: ["validation", "malformed-body", "payload-too-large", ...admin]
})

export const startBulk = route({
  method: "post",
  path: "/admin/api/bulk-operations",
  operationId: "startBulkOperation",
  summary: "Retry, cancel or delete every job a filter matches, in batches, by a job.",
  description:
    "Only jobs that exist now are affected (later ones are not swept up), and each only if it is in a state the action applies to when its batch comes. " +
    "Batches of 500, each its own transaction. Follow it with `GET /admin/api/bulk-operations/{id}`.",
  tags,
  security: "admin",
  body: { schema: BulkStartBody, excess: "error" },
  responses: { 202: { description: "Started", schema: BulkOperation } },
  problems: ["validation", "malformed-body", "payload-too-large", "conflict", ...admin]
})

export const getBulk = route({
  method: "get",
  path: "/admin/api/bulk-operations/{id}",
  operationId: "getBulkOperation",
  summary: "A bulk operation and how far it got.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The operation", schema: BulkOperation } },
  problems: ["not-found", ...admin]
})

export const previewCallbackBulk = route({
  method: "post",
  path: "/admin/api/callback-bulk-operations/preview",
  operationId: "previewCallbackBulkOperation",
  summary: "How many callback requests a filter matches now, and how many of them are in a status an action applies to.",
  description: "The filter is the callbacks list's (`GET /admin/api/callbacks`), or `ids`, the requests an operator selected.",
  tags: callbackTags,
  security: "admin",
  body: { schema: CallbackBulkPreviewBody, excess: "error" },
  responses: { 200: { description: "The counts", schema: BulkPreview } },
  problems: ["validation", "malformed-body", "payload-too-large", ...admin]
})

export const startCallbackBulk = route({
  method: "post",
  path: "/admin/api/callback-bulk-operations",
  operationId: "startCallbackBulkOperation",
  summary: "Retry or cancel every callback request a filter matches, in batches, by a job.",
  description:
    "Each request changes exactly as `POST /admin/api/callbacks/{id}/retry` or `/cancel` would change it (its history event, the dial a retry enqueues), " +
    "and only if that action would be accepted when its batch comes: the others are left as they are and not counted. " +
    "Only requests that exist now are affected (later ones are not swept up). " +
    "Batches of 50, each its own transaction. Follow it with `GET /admin/api/callback-bulk-operations/{id}`.",
  tags: callbackTags,
  security: "admin",
  body: { schema: CallbackBulkStartBody, excess: "error" },
  responses: { 202: { description: "Started", schema: CallbackBulkOperation } },
  problems: ["validation", "malformed-body", "payload-too-large", "conflict", ...admin]
})

export const getCallbackBulk = route({
  method: "get",
  path: "/admin/api/callback-bulk-operations/{id}",
  operationId: "getCallbackBulkOperation",
  summary: "A bulk operation on callback requests and how far it got.",
  tags: callbackTags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The operation", schema: CallbackBulkOperation } },
  problems: ["not-found", ...admin]
})

export const bulkRoutesContract = [previewBulk, startBulk, getBulk, previewCallbackBulk, startCallbackBulk, getCallbackBulk]
