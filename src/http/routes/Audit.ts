/** The audit trail over the admin API (contract/Audit.ts): decode -> AuditLog.list -> encode. */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { AuditLog } from "../../../infra/console/AuditLog.ts"
import { AuditPage, type AuditQuery, listAudit } from "../contract/Audit.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

/** A page of the audit trail for `query`, with the cursor of the next one when this one is full. */
export const auditPage = (query: typeof AuditQuery.Type) =>
  Effect.map(
    Effect.flatMap(AuditLog, (log) => log.list({ operator: query.operator, action: query.action, before: query.cursor, limit: query.limit })),
    (items) => ({ items, ...(items.length === query.limit && items.length > 0 ? { nextCursor: items[items.length - 1]?.id } : {}) })
  )

export const auditRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, listAudit, ({ query }) => Effect.flatMap(auditPage(query), (page) => reply(AuditPage, page)))
  return router
}
