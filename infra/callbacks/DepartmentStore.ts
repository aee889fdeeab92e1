/**
 * The `departments` and `call_flows` tables (migrations/0022_departments.sql):
 * a business's departments, and every saved version of each department's call
 * flow. Statements run on the ambient connection, so inside `inTransaction`
 * they join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import type { CallFlow } from "../../domain/callbacks/CallFlow.ts"
import type { DepartmentInput } from "../../domain/callbacks/Department.ts"
import { TerminalStatuses } from "../../domain/callbacks/CallbackState.ts"
import { narrow } from "../db/DatabaseError.ts"
import { decodeFirst, decodeRow, decodeRows, DepartmentRow, FlowVersionRow } from "./Rows.ts"

export class DepartmentStore extends Effect.Service<DepartmentStore>()("switchboard/infra/DepartmentStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const terminal: ReadonlyArray<string> = TerminalStatuses

    /** Creates the department or replaces its fields; whether it was created. */
    const put = (businessId: string, key: string, input: DepartmentInput) =>
      sql<{ created: boolean }>`
        INSERT INTO departments (business_id, key, name, phone, ring_seconds, escalation, hours, after_hours, max_concurrent_calls)
        VALUES (${businessId}, ${key}, ${input.name}, ${input.phone}, ${input.ringSeconds}, ${JSON.stringify(input.escalation)}::jsonb,
                ${input.hours === undefined ? null : JSON.stringify(input.hours)}::jsonb, ${JSON.stringify(input.afterHours)}::jsonb, ${input.maxConcurrentCalls})
        ON CONFLICT (business_id, key) DO UPDATE
          SET name = excluded.name, phone = excluded.phone, ring_seconds = excluded.ring_seconds, escalation = excluded.escalation,
              hours = excluded.hours, after_hours = excluded.after_hours, max_concurrent_calls = excluded.max_concurrent_calls, updated_at = now()
        RETURNING *, (xmax = 0) AS created`.pipe(
        narrow("departments.put"),
        Effect.flatMap((rows) => Effect.map(decodeRow(DepartmentRow)(rows[0]), (department) => ({ department, created: rows[0]?.created === true })))
      )

    const find = (businessId: string, key: string) =>
      sql`SELECT * FROM departments WHERE business_id = ${businessId} AND key = ${key}`.pipe(narrow("departments.find"), Effect.flatMap(decodeFirst(DepartmentRow)))

    /** The business's departments by key. */
    const list = (businessId: string) =>
      sql`SELECT * FROM departments WHERE business_id = ${businessId} ORDER BY key`.pipe(narrow("departments.list"), Effect.flatMap(decodeRows(DepartmentRow)))

    /** How many unfinished requests are with the department. */
    const activeRequests = (businessId: string, key: string) =>
      sql<{ n: number }>`
        SELECT count(*)::int AS n FROM callback_requests
         WHERE business_id = ${businessId} AND department = ${key} AND status <> ALL(${terminal}::text[])`.pipe(
        narrow("departments.activeRequests"),
        Effect.map((rows) => rows[0]?.n ?? 0)
      )

    /** Removes the department; whether there was one. Its flows' versions stay, as the history of what was played. */
    const remove = (businessId: string, key: string) =>
      sql`DELETE FROM departments WHERE business_id = ${businessId} AND key = ${key} RETURNING key`.pipe(
        narrow("departments.remove"),
        Effect.map((rows) => rows.length > 0)
      )

    /**
     * Saves `flow` as the department's next version (1 for its first). Two saves at once get two versions: the
     * second waits for the first's lock, and its INSERT (a statement of its own, so with a snapshot taken after
     * the wait) sees the first's row.
     */
    const saveFlow = (businessId: string, department: string, flow: CallFlow) =>
      sql
        .withTransaction(
          Effect.zipRight(
            sql`SELECT pg_advisory_xact_lock(hashtextextended(${`call_flows:${businessId}:${department}`}, 0))`,
            sql`
              INSERT INTO call_flows (business_id, department, version, flow)
              VALUES (${businessId}, ${department},
                      coalesce((SELECT max(version) FROM call_flows WHERE business_id = ${businessId} AND department = ${department}), 0) + 1,
                      ${JSON.stringify(flow)}::jsonb)
              RETURNING department, version, flow, created_at`
          )
        )
        .pipe(
          narrow("callFlows.save"),
          Effect.flatMap(decodeFirst(FlowVersionRow)),
          Effect.flatMap((saved) => (saved._tag === "Some" ? Effect.succeed(saved.value) : Effect.dieMessage("INSERT ... RETURNING returned no row")))
        )

    /** The department's flow: the latest version, or `version` when given; none when never saved. */
    const flow = (businessId: string, department: string, version?: number) =>
      sql`
        SELECT department, version, flow, created_at FROM call_flows
         WHERE business_id = ${businessId} AND department = ${department} ${version === undefined ? sql`` : sql`AND version = ${version}`}
         ORDER BY version DESC LIMIT 1`.pipe(narrow("callFlows.find"), Effect.flatMap(decodeFirst(FlowVersionRow)))

    /** Every saved version of the department's flow, newest first. */
    const flowVersions = (businessId: string, department: string) =>
      sql`
        SELECT department, version, flow, created_at FROM call_flows
         WHERE business_id = ${businessId} AND department = ${department}
         ORDER BY version DESC`.pipe(narrow("callFlows.list"), Effect.flatMap(decodeRows(FlowVersionRow)))

    return { put, find, list, activeRequests, remove, saveFlow, flow, flowVersions }
  })
}) {}
