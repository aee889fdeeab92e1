/**
 * The change an operator's retry, cancel, delete or run-now makes to the jobs `where`
 * names, limited to the states the action applies to (domain/jobs/BulkOperation.ts
 * `statesFor`, from the transition table): one job (JobStore.operate) or a
 * batch of a bulk operation (BulkJobs.applyBatch). Returns the rows changed.
 */
import type { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { type OperatorAction, statesFor } from "../../domain/jobs/BulkOperation.ts"
import type { JobRow } from "./JobRecords.ts"

export const operatorChange = (sql: SqlClient.SqlClient, action: OperatorAction, where: Fragment) => {
  const target = sql`${where} AND state = ANY(${[...statesFor(action)]}::job_state[])`
  switch (action) {
    case "retry":
      // a discarded job gets one more attempt
      return sql<JobRow>`
        UPDATE jobs SET state = 'available', run_at = now(), finished_at = NULL, lease = NULL,
                        waiting_for_slot = false, waiting_for_rate = false, max_attempts = greatest(max_attempts, attempt + 1)
         WHERE ${target} RETURNING *`
    case "runNow":
      // as if its time had come: it keeps its attempts
      return sql<JobRow>`UPDATE jobs SET state = 'available', run_at = now(), waiting_for_slot = false, waiting_for_rate = false
         WHERE ${target} RETURNING *`
    case "cancel":
      return sql<JobRow>`UPDATE jobs SET state = 'cancelled', finished_at = now(), lease = NULL WHERE ${target} RETURNING *`
    case "delete":
      return sql<JobRow>`DELETE FROM jobs WHERE ${target} RETURNING *`
  }
}
