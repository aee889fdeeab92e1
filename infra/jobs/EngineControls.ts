/**
 * Operators' controls of the job engine, persisted so that every process
 * honours them: paused queues, enabled and disabled cron schedules, and drain
 * requests on processes (migrations/0013_engine_controls.sql).
 *
 * A pause takes effect in the claim statement itself (`JobStore.claim` claims
 * nothing of a paused queue), so it holds from its commit on. Pools also learn
 * of it through a NOTIFY of `CONTROLS_PAYLOAD` on the jobs channel (or their
 * poll) to hand back what they hold unstarted; a resume also wakes the queue's
 * pools. `by` names who asked (the operator, or `admin-token`).
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isUuid } from "../../domain/Ids.ts"
import type { JobState } from "../../domain/jobs/JobState.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { JOBS_CHANNEL } from "./JobStore.ts"

/** NOTIFY payload on the jobs channel: the paused queues changed (every process re-reads them). */
export const CONTROLS_PAYLOAD = "@controls"

export interface QueuePause {
  readonly pausedAt: Date
  readonly pausedBy: string
}

export interface CronControl {
  readonly enabled: boolean
  /** When the schedule last changed state. */
  readonly updatedAt: Date
  readonly updatedBy: string
}

/** The newest job of a schedule (a slot or a manual run). */
export interface CronRun {
  readonly jobId: string
  readonly state: JobState
  readonly runAt: Date
  readonly finishedAt: Date | null
}

export class EngineControls extends Effect.Service<EngineControls>()("switchboard/infra/EngineControls", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** Pauses `queue` in every process; false when it was paused already. */
    const pauseQueue = (queue: string, by: string): Effect.Effect<boolean, DatabaseError> =>
      sql<{ queue: string }>`
        WITH paused AS (
          INSERT INTO paused_queues (queue, paused_by) VALUES (${queue}, ${by}) ON CONFLICT (queue) DO NOTHING RETURNING queue
        )
        SELECT queue, pg_notify(${JOBS_CHANNEL}, ${CONTROLS_PAYLOAD}) FROM paused`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.tap((changed) => (changed ? Effect.logInfo(`queue ${queue} paused by ${by}`) : Effect.void)),
        narrow("controls.pauseQueue")
      )

    /** Resumes `queue` and wakes its pools in every process; false when it was not paused. */
    const resumeQueue = (queue: string, by: string): Effect.Effect<boolean, DatabaseError> =>
      sql<{ queue: string }>`
        WITH resumed AS (DELETE FROM paused_queues WHERE queue = ${queue} RETURNING queue)
        SELECT queue, pg_notify(${JOBS_CHANNEL}, ${CONTROLS_PAYLOAD}), pg_notify(${JOBS_CHANNEL}, queue) FROM resumed`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.tap((changed) => (changed ? Effect.logInfo(`queue ${queue} resumed by ${by}`) : Effect.void)),
        narrow("controls.resumeQueue")
      )

    const pausedQueues: Effect.Effect<ReadonlyMap<string, QueuePause>, DatabaseError> = sql<{ queue: string; paused_at: Date; paused_by: string }>`
      SELECT queue, paused_at, paused_by FROM paused_queues`.pipe(
      Effect.map((rows) => new Map(rows.map((r) => [r.queue, { pausedAt: r.paused_at, pausedBy: r.paused_by }]))),
      narrow("controls.pausedQueues")
    )

    interface ControlRow {
      readonly name: string
      readonly enabled: boolean
      readonly updated_at: Date
      readonly updated_by: string
    }
    const controlOf = (r: ControlRow): CronControl => ({ enabled: r.enabled, updatedAt: r.updated_at, updatedBy: r.updated_by })

    /** Every schedule an operator ever changed; a schedule without an entry is enabled. */
    const cronControls: Effect.Effect<ReadonlyMap<string, CronControl>, DatabaseError> = sql<ControlRow>`
      SELECT name, enabled, updated_at, updated_by FROM cron_controls`.pipe(
      Effect.map((rows) => new Map(rows.map((r) => [r.name, controlOf(r)]))),
      narrow("controls.cronControls")
    )

    /** One schedule's control; none: it was never changed (enabled). */
    const cronControl = (name: string): Effect.Effect<Option.Option<CronControl>, DatabaseError> =>
      sql<ControlRow>`SELECT name, enabled, updated_at, updated_by FROM cron_controls WHERE name = ${name}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), controlOf)),
        narrow("controls.cronControl")
      )

    /**
     * Enables or disables a schedule; false when it already was. A row is written only on a
     * change (enabling a schedule nobody disabled writes nothing), so `updatedAt` is when it
     * last changed state.
     */
    const setCronEnabled = (name: string, enabled: boolean, by: string): Effect.Effect<boolean, DatabaseError> =>
      (enabled
        ? sql<{ name: string }>`
            UPDATE cron_controls SET enabled = true, updated_at = now(), updated_by = ${by}
             WHERE name = ${name} AND NOT enabled RETURNING name`
        : sql<{ name: string }>`
            INSERT INTO cron_controls (name, enabled, updated_by) VALUES (${name}, false, ${by})
            ON CONFLICT (name) DO UPDATE SET enabled = false, updated_at = now(), updated_by = EXCLUDED.updated_by
             WHERE cron_controls.enabled RETURNING name`
      ).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.tap((changed) => (changed ? Effect.logInfo(`cron ${name} ${enabled ? "enabled" : "disabled"} by ${by}`) : Effect.void)),
        narrow("controls.setCronEnabled")
      )

    /** The newest job of each of these schedules (by unique key `cron:<name>:...`), one index probe each. */
    const lastCronRuns = (names: ReadonlyArray<string>): Effect.Effect<ReadonlyMap<string, CronRun>, DatabaseError> =>
      names.length === 0
        ? Effect.succeed(new Map())
        : sql<{ name: string; id: string; state: JobState; run_at: Date; finished_at: Date | null }>`
          SELECT n.name, j.id, j.state, j.run_at, j.finished_at
            FROM unnest(${[...names]}::text[]) AS n(name)
            CROSS JOIN LATERAL (
              SELECT id, state, run_at, finished_at FROM jobs
               WHERE unique_key LIKE 'cron:%' AND split_part(unique_key, ':', 2) = n.name
               ORDER BY split_part(unique_key, ':', 2), id DESC LIMIT 1) j`.pipe(
            Effect.map(
              (rows) => new Map(rows.map((r) => [r.name, { jobId: String(r.id), state: r.state, runAt: r.run_at, finishedAt: r.finished_at }]))
            ),
            narrow("controls.lastCronRuns")
          )

    /**
     * Asks a process to drain: its heartbeat sees the request and starts its graceful shutdown.
     * The first request's time and author are kept. False when no such process is registered.
     */
    const requestDrain = (processId: string, by: string): Effect.Effect<boolean, DatabaseError> =>
      !isUuid(processId)
        ? Effect.succeed(false)
        : sql<{ id: string }>`
          UPDATE processes SET drain_requested_at = coalesce(drain_requested_at, now()),
                               drain_requested_by = coalesce(drain_requested_by, ${by})
           WHERE id = ${processId}::uuid RETURNING id`.pipe(
            Effect.map((rows) => rows.length > 0),
            Effect.tap((found) => (found ? Effect.logInfo(`drain of process ${processId} requested by ${by}`) : Effect.void)),
            narrow("controls.requestDrain")
          )

    /** Which of these unique keys (cron slots: `slotKey`) some job holds. */
    const enqueuedKeys = (keys: ReadonlyArray<string>): Effect.Effect<ReadonlySet<string>, DatabaseError> =>
      keys.length === 0
        ? Effect.succeed(new Set())
        : sql<{ unique_key: string }>`SELECT unique_key FROM jobs WHERE unique_key = ANY(${[...keys]}::text[])`.pipe(
            Effect.map((rows) => new Set(rows.map((r) => r.unique_key))),
            narrow("controls.enqueuedKeys")
          )

    return { pauseQueue, resumeQueue, pausedQueues, cronControls, cronControl, setCronEnabled, lastCronRuns, enqueuedKeys, requestDrain } as const
  })
}) {}
