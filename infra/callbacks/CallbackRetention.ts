/**
 * What the callback platform keeps, and for how long: the statements of the
 * `maintenance.cleanup` job. Each is one statement on the ambient connection,
 * measures age by the database's clock (`now()`), takes its statuses from the
 * domain (domain/callbacks/CallbackState.ts), and narrows `SqlError` to
 * `DatabaseError`. Expiring a request records it in the request's history
 * (HistoryStore.ts) in the same statement.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type CallbackStatus, sourcesOf, targetsOf, TerminalStatuses } from "../../domain/callbacks/CallbackState.ts"
import { MoveTypes } from "../../domain/callbacks/History.ts"
import { businessSlot } from "../../domain/callbacks/Jobs.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { nextSeq, recordFrom } from "./HistoryStore.ts"

const seconds = (d: Duration.DurationInput): number => Math.max(0, Duration.toSeconds(d))

const EXPIRE_FROM = sourcesOf("expire")
/** `expire` has one target status, whatever it starts from. */
const EXPIRED: CallbackStatus = targetsOf("expire")[0] ?? "expired"

/**
 * Requests still waiting for a code issued longer than `lifetime` ago become
 * `expired` (finished now); the ids of those that did.
 */
export const expireUnverified = (lifetime: Duration.DurationInput): Effect.Effect<ReadonlyArray<string>, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ id: string }>`
      WITH r AS (
        UPDATE callback_requests r SET status = ${EXPIRED}, updated_at = now(), finished_at = now(), ${nextSeq(sql)}
          FROM verifications v
         WHERE v.callback_id = r.id AND r.status = ANY(${[...EXPIRE_FROM]}::text[])
           AND v.issued_at < now() - make_interval(secs => ${seconds(lifetime)})
        RETURNING r.*),
      e AS (${recordFrom(sql, "r", MoveTypes.expire, sql`'{}'::jsonb`)})
      SELECT id FROM r`
  ).pipe(
    Effect.map((rows) => rows.map((row) => row.id)),
    narrow("callbacks.expireUnverified")
  )

/** How many rows a `WITH gone AS (DELETE ... RETURNING 1) SELECT count(*) AS n FROM gone` statement deleted. */
const deleted = (operation: string, statement: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<{ readonly n: number }>, SqlError>) =>
  Effect.flatMap(SqlClient.SqlClient, statement).pipe(
    Effect.map(([row]) => row?.n ?? 0),
    narrow(operation)
  )

/** Deletes requests that finished longer than `retention` ago, with their attempts, code and texts (cascades); how many. */
export const purgeFinished = (retention: Duration.DurationInput): Effect.Effect<number, DatabaseError, SqlClient.SqlClient> =>
  deleted(
    "callbacks.purgeFinished",
    (sql) => sql<{ n: number }>`
      WITH gone AS (
        DELETE FROM callback_requests
         WHERE status = ANY(${[...TerminalStatuses]}::text[])
           AND finished_at < now() - make_interval(secs => ${seconds(retention)})
        RETURNING 1)
      SELECT count(*)::int AS n FROM gone`
  )

/** Deletes the rows of `table` whose `column` is older than `age`; how many. */
const purgeOlderThan = (operation: string, table: string, column: string, age: Duration.DurationInput) =>
  deleted(
    operation,
    (sql) => sql<{ n: number }>`
      WITH gone AS (DELETE FROM ${sql(table)} WHERE ${sql(column)} < now() - make_interval(secs => ${seconds(age)}) RETURNING 1)
      SELECT count(*)::int AS n FROM gone`
  )

/**
 * Gives back the slots of calls that no longer need them: leases of businesses' calls whose attempt has ended
 * or is gone. Each call's watcher does this itself; this is the safety net for one that was lost. How many.
 */
export const releaseEndedCallSlots: Effect.Effect<number, DatabaseError, SqlClient.SqlClient> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`
    DELETE FROM job_slot_leases l
     WHERE l.concurrency_key LIKE ${businessSlot("") + "%"}
       AND NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.id::text = l.holder AND a.ended_at IS NULL)
    RETURNING l.holder`.pipe(
    Effect.map((rows) => rows.length),
    narrow("leases.releaseEnded")
  )
)

/** Drops rate-limit events older than `window` (the longest window any limit looks back over); how many. */
export const purgeRateEvents = (window: Duration.DurationInput): Effect.Effect<number, DatabaseError, SqlClient.SqlClient> =>
  purgeOlderThan("rate_limit.purge", "rate_events", "at", window)

/** Drops idempotency keys older than `ttl` (their replay window is over); how many. */
export const purgeIdempotencyKeys = (ttl: Duration.DurationInput): Effect.Effect<number, DatabaseError, SqlClient.SqlClient> =>
  purgeOlderThan("idempotency.purge", "idempotency_keys", "created_at", ttl)

/** Drops Twilio's webhook idempotency tokens older than `ttl` (Twilio retries for far less); how many. */
export const purgeWebhookDeliveries = (ttl: Duration.DurationInput): Effect.Effect<number, DatabaseError, SqlClient.SqlClient> =>
  purgeOlderThan("webhooks.purge", "webhook_deliveries", "created_at", ttl)

/** Drops operational events (job failures, endpoint changes; migrations/0008) older than `retention`; how many. */
export const purgeOperationalEvents = (retention: Duration.DurationInput): Effect.Effect<number, DatabaseError, SqlClient.SqlClient> =>
  purgeOlderThan("operational_events.purge", "operational_events", "at", retention)
