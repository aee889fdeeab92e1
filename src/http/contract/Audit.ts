/**
 * The operators' audit trail (infra/console/AuditLog.ts): every operator
 * action, from the console, the admin API and the CLI, newest first. The
 * console's audit page and its JSON export read the same list.
 */
import * as Schema from "effect/Schema"
import { AuditEntry } from "../../../domain/console/Operator.ts"
import { route } from "../Contract.ts"
import { Limit, Page } from "./Fields.ts"

export const AuditQuery = Schema.Struct({
  operator: Schema.optional(Schema.String.pipe(Schema.maxLength(200)).annotations({ description: "only this operator's actions (`admin-token` for the admin token's)" })),
  action: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[A-Za-z]{1,100}$/, { message: () => "must be an action: an operation id such as retryJob" })).annotations({
      description: "only this action: an admin API operation id (`retryJob`), `signIn`, `signOut`, `addOperator`, ..."
    })
  ),
  limit: Limit(100, 1000),
  cursor: Schema.optional(Schema.String.pipe(Schema.pattern(/^[1-9]\d{0,18}$/, { message: () => "is not a cursor this API returned" })).annotations({ description: "`nextCursor` of the previous page" }))
})

export const AuditPage = Page(AuditEntry, "AuditPage")

export const listAudit = route({
  method: "get",
  path: "/admin/api/audit",
  operationId: "listAudit",
  summary: "The operators' actions, newest first: who did what, to what, when and from where.",
  tags: ["admin"],
  security: "admin",
  query: AuditQuery,
  responses: { 200: { description: "A page of audit entries", schema: AuditPage } },
  problems: ["validation", "unauthorized", "forbidden", "unavailable"]
})

export const auditRoutesContract = [listAudit]
