/**
 * The callback requests an operator's filter names, as a SQL condition on
 * `callback_requests` named `c`: the callbacks list (RequestStore.list) and
 * bulk operations on requests (BulkCallbacks.ts) read it alike, so a bulk
 * action changes exactly what the list shows for the same filter.
 */
import type { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import type { CallbackStatus } from "../../domain/callbacks/CallbackState.ts"
import { containsPattern } from "../db/Patterns.ts"

export interface CallbackMatch {
  readonly status?: CallbackStatus | undefined
  readonly businessId?: string | undefined
  /** In E.164. */
  readonly phone?: string | undefined
  /** Created at or after this instant. */
  readonly createdFrom?: Date | undefined
  /** Created before this instant. */
  readonly createdBefore?: Date | undefined
  /** Text found in the visitor's name or note, case-insensitively and literally. */
  readonly q?: string | undefined
  readonly ids?: ReadonlyArray<string> | undefined
}

/** Every field given must hold; none given: every request. */
export const matchingCallbacks = (sql: SqlClient.SqlClient, filter: CallbackMatch): Fragment =>
  sql.and([
    ...(filter.status === undefined ? [] : [sql`c.status = ${filter.status}`]),
    ...(filter.businessId === undefined ? [] : [sql`c.business_id = ${filter.businessId}::uuid`]),
    ...(filter.phone === undefined ? [] : [sql`c.phone = ${filter.phone}`]),
    ...(filter.createdFrom === undefined ? [] : [sql`c.created_at >= ${filter.createdFrom.toISOString()}::timestamptz`]),
    ...(filter.createdBefore === undefined ? [] : [sql`c.created_at < ${filter.createdBefore.toISOString()}::timestamptz`]),
    ...(filter.q === undefined ? [] : [sql`(coalesce(c.name, '') || ' ' || coalesce(c.note, '')) ILIKE ${containsPattern(filter.q)}`]),
    ...(filter.ids === undefined ? [] : [sql`c.id = ANY(${[...filter.ids]}::uuid[])`])
  ])
