/**
 * Bulk operations on jobs (src/jobs/BulkOperations.ts): count what a filter
 * matches, start an action on all of it (carried out by a job, in batches),
 * and follow it.
 */
import * as Schema from "effect/Schema"
import { BulkAction, BulkJobFilter, BulkOperation } from "../../../domain/jobs/BulkOperation.ts"
import { route } from "../Contract.ts"
import { IdParams } from "./Fields.ts"

export const BulkPreviewBody = Schema.Struct({ action: BulkAction, filter: BulkJobFilter }).annotations({ identifier: "BulkPreviewRequest" })

export const BulkPreview = Schema.Struct({
  matched: Schema.Int.annotations({ description: "the jobs the filter matches now" }),
  applicable: Schema.Int.annotations({ description: "of those, the ones in a state the action applies to: what it would change now" })
}).annotations({ identifier: "BulkPreview" })

export const BulkStartBody = Schema.Struct({
  action: BulkAction,
  filter: BulkJobFilter,
  expectedCount: Schema.optional(
    Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "the `matched` count the operator confirmed: a different count now is refused (409), nothing is changed" })
  )
}).annotations({ identifier: "BulkStartRequest" })

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["jobs"]

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

export const bulkRoutesContract = [previewBulk, startBulk, getBulk]
