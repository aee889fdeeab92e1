/**
 * The `processes` table: one row per live process, refreshed by its heartbeat.
 * A row that stops being refreshed is pruned by any live process (JobStore.rescue),
 * which also returns the dead process's running jobs. An operator's drain
 * request (EngineControls.requestDrain) is read back by the heartbeat.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { BUILD } from "../observability/Build.ts"

export interface QueueLoad {
  readonly concurrency: number
  readonly running: number
}

export interface ProcessInfo {
  readonly id: string
  readonly role: string
  readonly hostname: string
  readonly pid: number
  readonly queues: Readonly<Record<string, QueueLoad>>
}

export interface ProcessRecord extends ProcessInfo {
  readonly startedAt: Date
  readonly heartbeatAt: Date
  /** When an operator asked this process to drain (it shuts down gracefully), and who. */
  readonly drainRequestedAt: Date | null
  readonly drainRequestedBy: string | null
  /** What it runs (infra/observability/Build.ts); null for a row written before that was recorded. */
  readonly version: string | null
  readonly revision: string | null
  readonly runtime: string | null
}

/** What a heartbeat found: whether the row was still there, and whether an operator asked this process to drain. */
export interface Beat {
  readonly found: boolean
  readonly drainRequested: boolean
}

interface ProcessRow {
  readonly id: string
  readonly role: string
  readonly hostname: string
  readonly pid: number
  readonly queues: Record<string, QueueLoad>
  readonly started_at: Date
  readonly heartbeat_at: Date
  readonly drain_requested_at: Date | null
  readonly drain_requested_by: string | null
  readonly version: string | null
  readonly revision: string | null
  readonly runtime: string | null
}

export class ProcessRegistry extends Effect.Service<ProcessRegistry>()("switchboard/infra/ProcessRegistry", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** Inserts (or refreshes) this process's row. */
    const register = (info: ProcessInfo): Effect.Effect<void, DatabaseError> =>
      sql`
        INSERT INTO processes (id, role, hostname, pid, queues, version, revision, runtime)
        VALUES (${info.id}::uuid, ${info.role}, ${info.hostname}, ${info.pid}, ${JSON.stringify(info.queues)}::jsonb, ${BUILD.version}, ${BUILD.revision}, ${BUILD.runtime})
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), queues = EXCLUDED.queues`.pipe(
        Effect.asVoid,
        narrow("processes.register")
      )

    /** Refreshes the heartbeat; not found when the row is gone (this process was presumed dead and pruned). */
    const beat = (id: string, queues: Readonly<Record<string, QueueLoad>>): Effect.Effect<Beat, DatabaseError> =>
      sql<{ drain_requested_at: Date | null }>`
        UPDATE processes SET heartbeat_at = now(), queues = ${JSON.stringify(queues)}::jsonb
         WHERE id = ${id}::uuid RETURNING drain_requested_at`.pipe(
        Effect.map((rows) => ({ found: rows.length === 1, drainRequested: rows[0]?.drain_requested_at != null })),
        narrow("processes.beat")
      )

    const deregister = (id: string): Effect.Effect<void, DatabaseError> =>
      sql`DELETE FROM processes WHERE id = ${id}::uuid`.pipe(Effect.asVoid, narrow("processes.deregister"))

    const list: Effect.Effect<ReadonlyArray<ProcessRecord>, DatabaseError> = sql<ProcessRow>`
      SELECT * FROM processes ORDER BY started_at`.pipe(
      Effect.map((rows) =>
        rows.map((row) => ({
          id: row.id,
          role: row.role,
          hostname: row.hostname,
          pid: row.pid,
          queues: row.queues,
          startedAt: row.started_at,
          heartbeatAt: row.heartbeat_at,
          drainRequestedAt: row.drain_requested_at,
          drainRequestedBy: row.drain_requested_by,
          version: row.version,
          revision: row.revision,
          runtime: row.runtime
        }))
      ),
      narrow("processes.list")
    )

    return { register, beat, deregister, list } as const
  })
}) {}
