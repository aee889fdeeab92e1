/** The jobs an operator's filter names, as a SQL condition: the jobs list (JobStore.list) and bulk operations (BulkJobs) read it alike. */
import type { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import type { JobState } from "../../domain/jobs/JobState.ts"
import { containsPattern } from "../db/Patterns.ts"

export interface JobMatch {
  readonly state?: JobState | undefined
  readonly queue?: string | undefined
  readonly kind?: string | undefined
  /** Text the arguments (as JSON) contain, case-insensitively and literally. */
  readonly q?: string | undefined
  readonly ids?: ReadonlyArray<string> | undefined
}

/** Every field given must hold; none given: every job. */
export const matching = (sql: SqlClient.SqlClient, filter: JobMatch): Fragment =>
  sql.and([
    ...(filter.state === undefined ? [] : [sql`state = ${filter.state}::job_state`]),
    ...(filter.queue === undefined ? [] : [sql`queue = ${filter.queue}`]),
    ...(filter.kind === undefined ? [] : [sql`kind = ${filter.kind}`]),
    ...(filter.q === undefined ? [] : [sql`args::text ILIKE ${containsPattern(filter.q)}`]),
    ...(filter.ids === undefined ? [] : [sql`id = ANY(${[...filter.ids]}::bigint[])`])
  ])
