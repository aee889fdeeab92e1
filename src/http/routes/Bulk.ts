/** Bulk operations on jobs and on callback requests over the admin API (contract/Bulk.ts): decode -> one use case (src/jobs/BulkOperations.ts) -> encode. */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { CallbackBulkOperation } from "../../../domain/callbacks/BulkCallbacks.ts"
import { TOKEN_OPERATOR } from "../../../domain/console/Operator.ts"
import { BulkOperation } from "../../../domain/jobs/BulkOperation.ts"
import * as Bulk from "../../jobs/BulkOperations.ts"
import { BulkPreview, getBulk, getCallbackBulk, previewBulk, previewCallbackBulk, startBulk, startCallbackBulk } from "../contract/Bulk.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

export const bulkRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, previewBulk, ({ body }) => Effect.flatMap(Bulk.preview(body.filter, body.action), ({ matched, applicable }) => reply(BulkPreview, { matched, applicable })))
  implement(router, startBulk, ({ body }) => Effect.flatMap(Bulk.start(body.action, body.filter, TOKEN_OPERATOR, body.expectedCount), (op) => reply(BulkOperation, op, 202)))
  implement(router, getBulk, ({ params }) => Effect.flatMap(Bulk.find(params.id, "jobs"), (op) => reply(BulkOperation, op)))
  implement(router, previewCallbackBulk, ({ body }) => Effect.flatMap(Bulk.previewCallbacks(body.filter, body.action), (counts) => reply(BulkPreview, counts)))
  implement(router, startCallbackBulk, ({ body }) =>
    Effect.flatMap(Bulk.startCallbacks(body.action, body.filter, TOKEN_OPERATOR, body.expectedCount), (op) => reply(CallbackBulkOperation, op, 202))
  )
  implement(router, getCallbackBulk, ({ params }) => Effect.flatMap(Bulk.find(params.id, "callbacks"), (op) => reply(CallbackBulkOperation, op)))
  return router
}
