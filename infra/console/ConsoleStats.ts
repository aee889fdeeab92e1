/**
 * The operator console's measurements (migrations/0017_console_indexes.sql):
 * how long a verified request waits for its first call, over windows and per
 * hour (the overview), and how many jobs each queue finished per minute in
 * the last hour (the queues page). Each reads one index range; every instant
 * is the database's (`now()`), and buckets come back as "so many minutes or
 * hours ago", so the app's clock never shifts a bar.
 */
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"

/** The wait to the first call over one window: how many first calls started in it, and the median and 90th percentile wait (none without calls). */
export interface DialLatency {
  readonly hours: number
  readonly dialed: number
  readonly p50Seconds: number | null
  readonly p90Seconds: number | null
}

/** One hour's first calls and their median wait. */
export interface HourlyDialLatency {
  readonly dialed: number
  readonly p50Seconds: number | null
}

/** One minute of a queue: jobs completed, and jobs discarded (out of attempts, or refused). */
export interface MinuteCount {
  readonly completed: number
  readonly discarded: number
}

/**
 * Every request's first call (attempt 1) started since `since`, with the seconds from when it was
 * due to its start. Due: when the request was verified (its `callback.verified` event), or, for a
 * request verified while its business was closed, when the business opened (the event's
 * `scheduledFor`), so opening hours do not read as a slow dialler. Found by the first calls' start
 * (`call_attempts_first_started_idx`), each one's event from `callback_events_verified_idx` alone
 * (a request is verified at most once: only `pending_verification` moves by `verify`).
 */
const firstDials = (sql: SqlClient.SqlClient, since: Fragment) => sql`
  SELECT a.started_at,
         extract(epoch FROM a.started_at - greatest(v.at, coalesce((v.data->>'scheduledFor')::timestamptz, v.at)))::float8 AS seconds
    FROM call_attempts a
    JOIN LATERAL (SELECT e.at, e.data FROM callback_events e
                   WHERE e.callback_id = a.callback_id AND e.type = 'callback.verified'
                   LIMIT 1) v ON true
   WHERE a.n = 1 AND a.started_at > ${since}`

/** The wait to the first call over each window of `hours` back from now, in the order given. */
export const dialLatency = (hours: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<DialLatency>, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ hours: number; dialed: number; p50: number | null; p90: number | null }>`
      WITH dials AS (${firstDials(sql, sql`now() - make_interval(hours => ${Math.max(1, ...hours)})`)})
      SELECT w.hours, count(d.seconds)::int AS dialed,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY d.seconds) AS p50,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY d.seconds) AS p90
        FROM unnest(${[...hours]}::int[]) AS w(hours)
        LEFT JOIN dials d ON d.started_at > now() - make_interval(hours => w.hours)
       GROUP BY w.hours`
  ).pipe(
    Effect.map((rows) =>
      hours.map((h) => {
        const row = rows.find((r) => r.hours === h)
        return { hours: h, dialed: row?.dialed ?? 0, p50Seconds: row?.p50 ?? null, p90Seconds: row?.p90 ?? null }
      })
    ),
    narrow("consoleStats.dialLatency")
  )

/** The median wait to the first call in each of the last `hours` hours (the current one last, and counted so far). */
export const hourlyDialLatency = (hours: number): Effect.Effect<ReadonlyArray<HourlyDialLatency>, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ ago: number; dialed: number; p50: number | null }>`
      WITH dials AS (${firstDials(sql, sql`date_trunc('hour', now()) - make_interval(hours => ${hours - 1})`)})
      SELECT (extract(epoch FROM date_trunc('hour', now()) - date_trunc('hour', d.started_at)) / 3600)::int AS ago,
             count(*)::int AS dialed,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY d.seconds) AS p50
        FROM dials d
       GROUP BY 1`
  ).pipe(
    Effect.map((rows) => Array.from({ length: hours }, (_, i) => rows.find((r) => r.ago === hours - 1 - i) ?? { dialed: 0, p50: null }).map((r) => ({ dialed: r.dialed, p50Seconds: r.p50 }))),
    narrow("consoleStats.hourlyDialLatency")
  )

/**
 * Jobs each queue finished in each of the last `minutes` minutes (the current one last, and counted
 * so far), by when they finished (`jobs_finished_idx`): completed, and discarded. Cancelled jobs
 * are an operator's decision, not work done, and are left out; so are jobs retried since (their
 * finish is undone) and those retention or an operator deleted.
 */
export const jobsFinishedPerMinute = (minutes: number): Effect.Effect<ReadonlyMap<string, ReadonlyArray<MinuteCount>>, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ queue: string; ago: number; completed: number; discarded: number }>`
      SELECT queue,
             (extract(epoch FROM date_trunc('minute', now()) - date_trunc('minute', finished_at)) / 60)::int AS ago,
             count(*) FILTER (WHERE state = 'completed')::int AS completed,
             count(*) FILTER (WHERE state = 'discarded')::int AS discarded
        FROM jobs
       WHERE finished_at >= date_trunc('minute', now()) - make_interval(mins => ${minutes - 1})
         AND state IN ('completed', 'discarded')
       GROUP BY 1, 2`
  ).pipe(
    Effect.map((rows) => {
      const byQueue = new Map<string, Array<MinuteCount>>()
      for (const row of rows) {
        const counts = byQueue.get(row.queue) ?? Array.from({ length: minutes }, () => ({ completed: 0, discarded: 0 }))
        // a job finished by a transaction that began after this statement's now() is this minute's
        const i = minutes - 1 - Math.max(0, row.ago)
        const at = counts[i]
        if (at !== undefined) counts[i] = { completed: at.completed + row.completed, discarded: at.discarded + row.discarded }
        byQueue.set(row.queue, counts)
      }
      return byQueue
    }),
    narrow("consoleStats.jobsFinishedPerMinute")
  )
