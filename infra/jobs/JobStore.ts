/**
 * The durable job store: every statement that reads or moves `jobs` rows.
 *
 * Each write is one conditional statement, safe to run from any number of
 * processes at once, and takes its source states from the domain's transition
 * table (`sourcesOf`). Writes of an attempt are fenced by its lease: a worker
 * that lost its job to a rescue changes 0 rows. Batch methods take arrays and
 * `unnest` them, so a flush of hundreds of outcomes is one round trip.
 * Deadlocks (possible only between concurrency-key admission and release) are
 * retried at once. Concurrency and rate keys are admitted inside `jobs_claim`
 * (migrations/0001_jobs.sql, 0020_slot_leases.sql, 0021_rate_keys.sql).
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Option from "effect/Option"
import type { OperatorAction } from "../../domain/jobs/BulkOperation.ts"
import { RateLimitRange } from "../../domain/jobs/JobDefinition.ts"
import { type JobEvent, type JobState, sourcesOf, targetOf } from "../../domain/jobs/JobState.ts"
import { JobId } from "../../domain/jobs/Job.ts"
import { type DatabaseError, isTransient, narrow } from "../db/DatabaseError.ts"
import { matching } from "./JobFilter.ts"
import { operatorChange } from "./OperatorChanges.ts"
import { incGrouped, Metrics } from "../observability/Metrics.ts"
import {
  type AttemptRef,
  type ClaimedJob,
  type Finished,
  type Inserted,
  type JobRecord,
  type JobRow,
  type ListFilter,
  type NewJob,
  type Outcome,
  type QueueStats,
  recordOf,
  type RescueReport
} from "./JobRecords.ts"

export const JOBS_CHANNEL = "switchboard_jobs"
/** NOTIFY payload that wakes promoters rather than a queue's pool. */
export const SCHEDULED_PAYLOAD = "@scheduled"

const interval = (d: Duration.DurationInput): string => `${Math.max(0, Math.round(Duration.toMillis(d)))} milliseconds`

/** Job ids are positive bigints; anything else names no job. */
export const isJobId: (id: string) => boolean = Schema.is(JobId)

const from = (event: JobEvent): ReadonlyArray<JobState> => sourcesOf(event)

/** One claimed job as `jobs_claim` returns it: [id, kind, args, priority, attempt, max_attempts, lease, traceparent]. */
type ClaimTuple = readonly [string, string, unknown, number, number, number, string, string | null]

/** The event each outcome applies: its sources and its target state both come from the transition table. */
const eventOf: Record<Outcome["_tag"], JobEvent> = {
  Completed: "complete",
  Retry: "retry",
  Discard: "discard",
  Snooze: "snooze",
  HandBack: "handBack"
}

const stateAfter = Object.fromEntries(
  Object.entries(eventOf).map(([tag, event]) => [tag, targetOf(event)])
) as Record<Outcome["_tag"], JobState>

/** The columns an outcome writes: target state, delay from now, attempts refunded, error appended. */
const columnsOf = (outcome: Outcome): readonly [JobState, number | null, number, string | null] => {
  const state = stateAfter[outcome._tag]
  switch (outcome._tag) {
    case "Completed":
      return [state, null, 0, null]
    case "Retry":
      return [state, outcome.delayMs, 0, JSON.stringify(outcome.error)]
    case "Discard":
      return [state, null, 0, JSON.stringify(outcome.error)]
    case "Snooze":
      return [state, outcome.delayMs, 1, null]
    case "HandBack":
      return [state, null, 1, outcome.error === undefined ? null : JSON.stringify(outcome.error)]
  }
}

export type CancelResult =
  | { readonly _tag: "Done"; readonly job: JobRecord }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Illegal"; readonly state: JobState }

export class JobStore extends Effect.Service<JobStore>()("switchboard/infra/JobStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const metrics = yield* Metrics

    /**
     * Notifies every process's listeners of these payloads on the jobs channel: a queue's name wakes
     * its pools, other payloads whoever subscribed to them (a live event stream). Inside a
     * transaction the notification is delivered when it commits, and not at all if it rolls back.
     */
    const wake = (payloads: ReadonlyArray<string>): Effect.Effect<void, DatabaseError> =>
      payloads.length === 0
        ? Effect.void
        : sql`SELECT pg_notify(${JOBS_CHANNEL}, q) FROM unnest(${[...new Set(payloads)]}::text[]) AS q`.pipe(
            Effect.asVoid,
            narrow("jobs.wake")
          )

    /**
     * Holds one slot of concurrency key `key` for `holder` past the job that took it (migrations/0020_slot_leases.sql):
     * written by a job admitted under `key` while it runs, it keeps the slot taken once the job has ended, until
     * `releaseSlot(holder)`. Writing it again changes nothing. On the ambient connection (joins a transaction).
     */
    const holdSlot = (key: string, holder: string): Effect.Effect<void, DatabaseError> =>
      sql`INSERT INTO job_slot_leases (holder, concurrency_key) VALUES (${holder}, ${key}) ON CONFLICT (holder) DO NOTHING`.pipe(
        Effect.asVoid,
        narrow("jobs.holdSlot")
      )

    /** Gives back the slot `holder` held, waking its key's next waiting job; whether it held one. */
    const releaseSlot = (holder: string): Effect.Effect<boolean, DatabaseError> =>
      sql`DELETE FROM job_slot_leases WHERE holder = ${holder} RETURNING holder`.pipe(
        Effect.map((rows) => rows.length > 0),
        narrow("jobs.releaseSlot")
      )

    const retryTransient = <A, R>(effect: Effect.Effect<A, DatabaseError, R>) =>
      Effect.retry(effect, { while: isTransient, times: 10 })

    const insert = (job: NewJob): Effect.Effect<Inserted, DatabaseError> =>
      Effect.gen(function* () {
        const rows = yield* sql<{ id: string; state: JobState }>`
          WITH t AS (
            -- its runAt, or now() plus its delay: the database's clock decides, as for claims
            SELECT coalesce(${job.runAt?.toISOString() ?? null}::timestamptz,
                            now() + coalesce(${job.delayMs ?? null}::bigint, 0) * interval '1 millisecond') AS run_at
          )
          INSERT INTO jobs (queue, kind, args, state, priority, run_at, max_attempts,
                            unique_key, concurrency_key, concurrency_limit, rate_key, rate_count, rate_per, traceparent)
          SELECT ${job.queue}, ${job.kind}, ${JSON.stringify(job.args ?? null)}::jsonb,
                  (CASE WHEN t.run_at > now() THEN 'scheduled' ELSE 'available' END)::job_state,
                  ${job.priority}, t.run_at, ${job.maxAttempts},
                  ${job.uniqueKey ?? null}, ${job.concurrencyKey ?? null}, ${job.concurrencyLimit ?? null},
                  ${job.rateKey ?? null}, ${job.rateCount ?? null}, ${job.ratePerMs ?? null}::float8 * interval '1 millisecond',
                  ${job.traceparent ?? null}
            FROM t
          ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
          RETURNING id, state`
        const [row] = rows
        if (row !== undefined) {
          metrics.jobsEnqueued.inc({ queue: job.queue, kind: job.kind })
          return { id: row.id, state: row.state, duplicate: false }
        }
        // Lost to an existing job with this unique key: report that one (a new snapshot sees it).
        const [existing] = yield* sql<{ id: string; state: JobState }>`
          SELECT id, state FROM jobs WHERE unique_key = ${job.uniqueKey ?? null}`
        if (existing !== undefined) return { id: existing.id, state: existing.state, duplicate: true }
        return yield* insert(job) // the holder was pruned in between: try again
      }).pipe(narrow("jobs.insert"))

    /** Bulk enqueue in one statement; returns how many rows were inserted (unique-key duplicates are skipped). */
    const insertMany = (jobs: ReadonlyArray<NewJob>): Effect.Effect<number, DatabaseError> =>
      jobs.length === 0
        ? Effect.succeed(0)
        : sql<{ queue: string; kind: string }>`
          INSERT INTO jobs (queue, kind, args, state, priority, run_at, max_attempts,
                            unique_key, concurrency_key, concurrency_limit, rate_key, rate_count, rate_per, traceparent)
          SELECT j.queue, j.kind, j.args::jsonb,
                 (CASE WHEN coalesce(j.run_at, now() + j.delay_ms * interval '1 millisecond') > now()
                       THEN 'scheduled' ELSE 'available' END)::job_state,
                 j.priority, coalesce(j.run_at, now() + coalesce(j.delay_ms, 0) * interval '1 millisecond'), j.max_attempts,
                 j.unique_key, j.concurrency_key, j.concurrency_limit,
                 j.rate_key, j.rate_count, j.rate_per_ms * interval '1 millisecond', j.traceparent
            FROM unnest(${jobs.map((j) => j.queue)}::text[], ${jobs.map((j) => j.kind)}::text[],
                        ${jobs.map((j) => JSON.stringify(j.args ?? null))}::text[], ${jobs.map((j) => j.priority)}::smallint[],
                        ${jobs.map((j) => j.runAt?.toISOString() ?? null)}::timestamptz[], ${jobs.map((j) => j.delayMs ?? null)}::bigint[],
                        ${jobs.map((j) => j.maxAttempts)}::integer[],
                        ${jobs.map((j) => j.uniqueKey ?? null)}::text[], ${jobs.map((j) => j.concurrencyKey ?? null)}::text[],
                        ${jobs.map((j) => j.concurrencyLimit ?? null)}::integer[], ${jobs.map((j) => j.rateKey ?? null)}::text[],
                        ${jobs.map((j) => j.rateCount ?? null)}::integer[], ${jobs.map((j) => j.ratePerMs ?? null)}::float8[],
                        ${jobs.map((j) => j.traceparent ?? null)}::text[])
                 AS j(queue, kind, args, priority, run_at, delay_ms, max_attempts, unique_key, concurrency_key, concurrency_limit,
                      rate_key, rate_count, rate_per_ms, traceparent)
          ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
          RETURNING queue, kind`.pipe(
            Effect.map((rows) => {
              incGrouped(metrics.jobsEnqueued, rows, ({ queue, kind }) => ({ queue, kind }))
              return rows.length
            }),
            narrow("jobs.insertMany")
          )

    /** Claims up to `limit` available jobs of `queue` whose kind is in `kinds`, for `processId`; none while an operator has paused the queue. */
    const claim = (
      queue: string,
      kinds: ReadonlyArray<string>,
      limit: number,
      processId: string,
      recheck: Duration.DurationInput
    ): Effect.Effect<ReadonlyArray<ClaimedJob>, DatabaseError> =>
      sql<{ claimed: ReadonlyArray<ClaimTuple> }>`
        SELECT jobs_claim(${queue}, ${kinds}::text[], ${limit}, ${processId}::uuid, ${interval(recheck)}::interval) AS claimed
         WHERE NOT EXISTS (SELECT 1 FROM paused_queues WHERE queue = ${queue})`.pipe(
        // already in priority, run_at, id order
        Effect.map(([row]) =>
          (row?.claimed ?? []).map(([id, kind, args, priority, attempt, maxAttempts, lease, traceparent]): ClaimedJob => ({
            id,
            queue,
            kind,
            args,
            priority,
            attempt,
            maxAttempts,
            lease,
            traceparent
          }))
        ),
        narrow("jobs.claim"),
        retryTransient
      )

    /** Marks attempts completed; returns the ids actually changed (a fenced attempt is missing). */
    const complete = (refs: ReadonlyArray<AttemptRef>): Effect.Effect<ReadonlyArray<string>, DatabaseError> =>
      refs.length === 0
        ? Effect.succeed([])
        : sql<{ n: number; ids: ReadonlyArray<string> | null }>`
          WITH done AS (
            UPDATE jobs SET state = 'completed', finished_at = now(), lease = NULL
              FROM unnest(string_to_array(${refs.map((r) => r.id).join(",")}, ',')::bigint[],
                          string_to_array(${refs.map((r) => r.lease).join(",")}, ',')::bigint[]) AS f(id, lease)
             WHERE jobs.id = f.id AND jobs.lease = f.lease AND jobs.state = ANY(${from("complete")}::job_state[])
            RETURNING jobs.id
          )
          -- the ids only when some write was fenced off (the common case parses one number)
          SELECT count(*)::int AS n, CASE WHEN count(*) < ${refs.length} THEN array_agg(id::text) END AS ids FROM done`.pipe(
            Effect.map(([row]) => (row === undefined || row.ids === null ? (row?.n === refs.length ? refs.map((r) => r.id) : []) : row.ids)),
            narrow("jobs.complete"),
            retryTransient
          )

    /** Writes any mix of outcomes in one statement; returns the ids actually changed. */
    const finish = (batch: ReadonlyArray<Finished>): Effect.Effect<ReadonlyArray<string>, DatabaseError> => {
      if (batch.length === 0) return Effect.succeed([])
      const columns = batch.map((f) => columnsOf(f.outcome))
      const sources = [...new Set(batch.flatMap((f) => from(eventOf[f.outcome._tag])))]
      return sql<{ id: string }>`
        UPDATE jobs SET state = f.state::job_state,
                        run_at = CASE WHEN f.delay_ms IS NULL THEN jobs.run_at ELSE now() + f.delay_ms * interval '1 millisecond' END,
                        attempt = jobs.attempt - f.refund,
                        finished_at = CASE WHEN f.state IN ('completed', 'discarded') THEN now() END,
                        lease = NULL,
                        errors = CASE WHEN f.error IS NULL THEN jobs.errors ELSE jobs.errors || jsonb_build_array(f.error::jsonb) END
          FROM unnest(${batch.map((f) => f.id)}::bigint[], ${batch.map((f) => f.lease)}::bigint[],
                      ${columns.map((c) => c[0])}::text[], ${columns.map((c) => c[1])}::bigint[],
                      ${columns.map((c) => c[2])}::integer[], ${columns.map((c) => c[3])}::text[])
               AS f(id, lease, state, delay_ms, refund, error)
         WHERE jobs.id = f.id AND jobs.lease = f.lease AND jobs.state = ANY(${sources}::job_state[])
        RETURNING jobs.id`.pipe(Effect.map((rows) => rows.map((r) => r.id)), narrow("jobs.finish"), retryTransient)
    }

    /** Makes due scheduled and retryable jobs available and wakes their queues; also says when the next one is due. */
    const promoteDue = (limit: number): Effect.Effect<{ readonly promoted: number; readonly nextDueAt: Option.Option<Date> }, DatabaseError> =>
      Effect.gen(function* () {
        const woken = yield* sql<{ queue: string; n: string }>`
          WITH due AS (
            SELECT id FROM jobs WHERE state = ANY(${from("promote")}::job_state[]) AND run_at <= now()
             ORDER BY run_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
          ), promoted AS (
            -- waiting_for_rate stays until the claim: it tells a job back at its turn from a newcomer (0021_rate_keys.sql)
            UPDATE jobs SET state = 'available', waiting_for_slot = false FROM due WHERE jobs.id = due.id RETURNING jobs.queue
          )
          SELECT queue, count(*) AS n, pg_notify(${JOBS_CHANNEL}, queue) FROM promoted GROUP BY queue`
        const [next] = yield* sql<{ next: Date | null }>`
          SELECT min(run_at) AS next FROM jobs WHERE state = ANY(${from("promote")}::job_state[])`
        return {
          promoted: woken.reduce((sum, row) => sum + Number(row.n), 0),
          nextDueAt: Option.fromNullable(next?.next ?? null)
        }
      }).pipe(narrow("jobs.promoteDue"))

    /**
     * Prunes processes whose heartbeat is older than `staleAfter` and returns
     * every running job whose process is gone: available again at once, or
     * discarded when it has no attempt left (the attempt was spent at claim).
     */
    const rescue = (staleAfter: Duration.DurationInput): Effect.Effect<RescueReport, DatabaseError> =>
      Effect.gen(function* () {
        const pruned = yield* sql<{ id: string }>`
          DELETE FROM processes WHERE heartbeat_at < now() - ${interval(staleAfter)}::interval RETURNING id`
        const rows = yield* sql<{ state: JobState; queue: string }>`
          WITH lost AS (
            SELECT id FROM jobs
             WHERE state = ANY(${from("rescue")}::job_state[])
               AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = jobs.locked_by)
             FOR UPDATE SKIP LOCKED
          ), moved AS (
            UPDATE jobs SET
              state = (CASE WHEN jobs.attempt >= jobs.max_attempts THEN 'discarded' ELSE 'available' END)::job_state,
              finished_at = CASE WHEN jobs.attempt >= jobs.max_attempts THEN now() END,
              lease = NULL,
              errors = jobs.errors || jsonb_build_array(jsonb_build_object(
                'attempt', jobs.attempt, 'at', now(), 'kind', 'rescued',
                'message', 'process ' || coalesce(jobs.locked_by::text, 'unknown') || ' stopped heartbeating'))
              FROM lost WHERE jobs.id = lost.id
            RETURNING jobs.state, jobs.queue
          )
          SELECT state, queue FROM moved`
        yield* wake(rows.filter((r) => r.state === "available").map((r) => r.queue))
        if (rows.length > 0) metrics.jobsRescued.inc(rows.length)
        return {
          pruned: pruned.map((r) => r.id),
          rescued: rows.filter((r) => r.state === "available").length,
          discarded: rows.filter((r) => r.state === "discarded").length
        }
      }).pipe(narrow("jobs.rescue"), retryTransient)

    /**
     * Hands back every job a process still holds, attempt refunded: the last
     * step of a graceful shutdown, so nothing stays held by a process that is gone.
     */
    const releaseHeld = (processId: string): Effect.Effect<number, DatabaseError> =>
      Effect.gen(function* () {
        const rows = yield* sql<{ queue: string }>`
          UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), lease = NULL,
                          errors = errors || jsonb_build_array(jsonb_build_object(
                            'attempt', attempt, 'at', now(), 'kind', 'interrupted', 'message', 'handed back at shutdown'))
           WHERE locked_by = ${processId}::uuid AND state = ANY(${from("handBack")}::job_state[])
          RETURNING queue`
        yield* wake(rows.map((r) => r.queue))
        return rows.length
      }).pipe(narrow("jobs.releaseHeld"), retryTransient)

    const get = (id: string): Effect.Effect<Option.Option<JobRecord>, DatabaseError> =>
      !isJobId(id) ? Effect.succeed(Option.none()) :
      sql<JobRow>`SELECT * FROM jobs WHERE id = ${id}::bigint`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), recordOf)),
        narrow("jobs.get")
      )

    const list = (filter: ListFilter): Effect.Effect<ReadonlyArray<JobRecord>, DatabaseError> =>
      sql<JobRow>`
        SELECT * FROM jobs
         WHERE ${matching(sql, { state: filter.state, queue: filter.queue, kind: filter.kind, q: filter.search })}
           AND (${filter.before ?? null}::bigint IS NULL OR id < ${filter.before ?? null}::bigint)
         ORDER BY id DESC LIMIT ${filter.limit}`.pipe(Effect.map((rows) => rows.map(recordOf)), narrow("jobs.list"))

    /** Applies an operator's action to one job: the job as it is after it (a deleted job as it was), or why not. */
    const operate = (id: string, action: OperatorAction): Effect.Effect<CancelResult, DatabaseError> =>
      Effect.gen(function* () {
        if (!isJobId(id)) return { _tag: "NotFound" } as const
        const [row] = yield* operatorChange(sql, action, sql`id = ${id}::bigint`).pipe(narrow(`jobs.${action}`))
        if (row !== undefined) {
          if (action !== "delete" && row.state === "available") yield* wake([row.queue])
          if (action === "cancel") metrics.jobsFinished.inc({ queue: row.queue, kind: row.kind, outcome: "cancelled" })
          return { _tag: "Done", job: recordOf(row) } as const
        }
        const current = yield* get(id)
        return Option.match(current, {
          onNone: () => ({ _tag: "NotFound" }) as const,
          onSome: (job) => ({ _tag: "Illegal", state: job.state }) as const
        })
      }).pipe(retryTransient)

    /**
     * Deletes finished jobs past retention, a batch at a time; returns how many went. Also forgets the ends
     * of rate-keyed jobs older than any rate's window (RateLimitRange.maxPer): they hold nothing back (claims
     * delete those of the keys they admit as soon as they leave the window; these are of idle keys).
     */
    const prune = (
      completedRetention: Duration.DurationInput,
      deadRetention: Duration.DurationInput,
      batch = 5_000
    ): Effect.Effect<number, DatabaseError> =>
      sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs
             WHERE (state = 'completed' AND finished_at < now() - ${interval(completedRetention)}::interval)
                OR (state IN ('discarded', 'cancelled') AND finished_at < now() - ${interval(deadRetention)}::interval)
             LIMIT ${batch})
          RETURNING 1
        ), idle AS (
          DELETE FROM job_rate_ends WHERE ended_at < now() - ${interval(RateLimitRange.maxPer)}::interval
        )
        SELECT count(*) AS n FROM gone`.pipe(Effect.map((rows) => Number(rows[0]?.n ?? 0)), narrow("jobs.prune"))

    /**
     * Depth per queue and state (completed and cancelled are history, not depth) and the
     * age of the oldest due job per queue, in one statement. The OR arms match the partial
     * indexes, so the scan never touches finished rows.
     */
    const queueStats: Effect.Effect<ReadonlyArray<QueueStats>, DatabaseError> = sql<{
      queue: string
      state: JobState
      n: string
      oldest_age: number | null
      slot_waiting: string
    }>`
      SELECT queue, state, count(*) AS n,
             extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'available' AND run_at <= now()))::float8 AS oldest_age,
             count(*) FILTER (WHERE waiting_for_slot) AS slot_waiting
        FROM jobs
       WHERE state = 'available' OR state = 'scheduled' OR state = 'retryable' OR state = 'running' OR state = 'discarded'
       GROUP BY queue, state`.pipe(
      Effect.map((rows) => {
        const byQueue = new Map<string, { counts: Partial<Record<JobState, number>>; oldestAvailableAgeSeconds: number; waitingForSlot: number }>()
        for (const row of rows) {
          const entry = byQueue.get(row.queue) ?? { counts: {}, oldestAvailableAgeSeconds: 0, waitingForSlot: 0 }
          entry.counts[row.state] = Number(row.n)
          entry.waitingForSlot += Number(row.slot_waiting)
          if (row.oldest_age !== null) entry.oldestAvailableAgeSeconds = Math.max(0, row.oldest_age)
          byQueue.set(row.queue, entry)
        }
        return [...byQueue].map(([queue, entry]) => ({ queue, ...entry }))
      }),
      narrow("jobs.queueStats")
    )

    /** How many slots leases hold (JobStore.holdSlot), over all keys. */
    const slotLeases: Effect.Effect<number, DatabaseError> = sql<{ n: string }>`SELECT count(*) AS n FROM job_slot_leases`.pipe(
      Effect.map((rows) => Number(rows[0]?.n ?? 0)),
      narrow("jobs.slotLeases")
    )

    /** A round trip, to tell whether the database answers. */
    const ping = sql`SELECT 1`.pipe(Effect.asVoid, narrow("jobs.ping"))

    return { ping, insert, insertMany, claim, complete, finish, promoteDue, rescue, releaseHeld, get, list, operate, prune, queueStats, slotLeases, wake, holdSlot, releaseSlot } as const
  })
}) {}
