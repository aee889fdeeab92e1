/**
 * The shape every bulk operation has, whatever it acts on (jobs:
 * domain/jobs/BulkOperation.ts; callback requests: domain/callbacks/
 * BulkCallbacks.ts): its target, action and filter, the count the operator
 * confirmed, how many it changed so far, who asked and when, and whether it
 * has finished.
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "./Timestamp.ts"

export const bulkOperationOf = <T extends string, A extends Schema.Schema.Any, F extends Schema.Schema.Any>(
  target: T,
  action: A,
  filter: F,
  /** What it acts on, as its descriptions say it: `jobs`, `requests`. */
  things: string,
  identifier: string
) =>
  Schema.Struct({
    id: Schema.UUID,
    target: Schema.Literal(target),
    action,
    filter,
    matched: Schema.Int.annotations({ description: `the ${things} the filter matched when the operation was asked for (the count confirmed)` }),
    changed: Schema.Int.annotations({ description: `the ${things} changed so far` }),
    requestedBy: Schema.String,
    createdAt: Timestamp,
    finishedAt: Schema.optional(Timestamp.annotations({ description: "absent while batches remain" }))
  }).annotations({ identifier })
