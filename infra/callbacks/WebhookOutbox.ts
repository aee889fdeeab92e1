/**
 * The webhook outbox and its delivery log (migrations/0009_webhooks.sql):
 * `webhook_outbox` holds one delivery (an event for an endpoint) from the
 * event's commit until it is delivered or dead; `webhook_attempts` holds every
 * attempt. Rows are written by the outbox trigger; this store reads them for
 * the delivery job, records attempts and outcomes, reopens a delivery for a
 * replay, wakes an enabled endpoint's waiting deliveries, and drops finished
 * ones past retention. The pending count is a gauge refreshed at each scrape.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { HistoryEventType } from "../../domain/callbacks/History.ts"
import { type AttemptOutcome, type DeliveryState, WebhookAttempt } from "../../domain/callbacks/Webhooks.ts"
import { sourcesOf, TerminalStates } from "../../domain/jobs/JobState.ts"
import { narrow } from "../db/DatabaseError.ts"
import { WebhookDeliver } from "../../domain/callbacks/Jobs.ts"
import { Metrics } from "../observability/Metrics.ts"
import { JOBS_CHANNEL } from "../jobs/JobStore.ts"
import { decodeFirst, decodeRows } from "./Rows.ts"

/** One delivery as the job sees it. */
export interface Delivery {
  readonly id: string
  readonly endpointId: string
  readonly eventId: string
  readonly callbackId: string
  readonly seq: number
  readonly eventType: HistoryEventType
  readonly state: DeliveryState
  readonly jobId: string | undefined
  readonly retryFrom: Date
}

/** The earliest delivery of the same endpoint and request still pending, and where its job stands. */
export interface Blocker {
  readonly seq: number
  readonly jobState: string
  readonly runAt: Date
  readonly waitingForSlot: boolean
}

export interface AttemptRecord {
  readonly delivery: Delivery
  readonly outcome: AttemptOutcome
  readonly statusCode?: number | undefined
  readonly error?: string | undefined
  readonly latencyMs: number
  readonly responseExcerpt?: string | undefined
}

const AttemptColumns = Schema.Struct({
  id: Schema.String,
  event_id: Schema.String,
  event_type: Schema.String,
  outcome: Schema.String,
  status_code: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
  latency_ms: Schema.Number,
  response_excerpt: Schema.NullOr(Schema.String),
  at: Schema.DateFromSelf,
  delivery_state: Schema.String
})

const AttemptRow = Schema.transform(AttemptColumns, Schema.typeSchema(WebhookAttempt), {
  strict: false,
  decode: (r) => ({
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    outcome: r.outcome,
    statusCode: r.status_code ?? undefined,
    error: r.error ?? undefined,
    latencyMs: r.latency_ms,
    responseExcerpt: r.response_excerpt ?? undefined,
    at: r.at,
    deliveryState: r.delivery_state
  }),
  encode: (a) => ({
    id: a.id,
    event_id: a.eventId,
    event_type: a.eventType,
    outcome: a.outcome,
    status_code: a.statusCode ?? null,
    error: a.error ?? null,
    latency_ms: a.latencyMs,
    response_excerpt: a.responseExcerpt ?? null,
    at: a.at,
    delivery_state: a.deliveryState
  })
})

const DeliveryColumns = Schema.Struct({
  id: Schema.String,
  endpoint_id: Schema.String,
  event_id: Schema.String,
  callback_id: Schema.String,
  seq: Schema.Number,
  event_type: HistoryEventType,
  state: Schema.Literal("pending", "delivered", "dead"),
  job_id: Schema.NullOr(Schema.String),
  retry_from: Schema.DateFromSelf
})

const toDelivery = (r: typeof DeliveryColumns.Type): Delivery => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventId: r.event_id,
  callbackId: r.callback_id,
  seq: r.seq,
  eventType: r.event_type,
  state: r.state,
  jobId: r.job_id ?? undefined,
  retryFrom: r.retry_from
})

const ms = (d: Duration.DurationInput) => Math.max(0, Math.round(Duration.toMillis(d)))

const isOutboxId = (id: string) => /^\d{1,18}$/.test(id)

export class WebhookOutbox extends Effect.Service<WebhookOutbox>()("switchboard/infra/WebhookOutbox", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const metrics = yield* Metrics
    const decodeDelivery = decodeFirst(DeliveryColumns)

    const find = (id: string) =>
      (isOutboxId(id)
        ? sql`SELECT id::text, endpoint_id, event_id, callback_id, seq, event_type, state, job_id::text, retry_from FROM webhook_outbox WHERE id = ${id}::bigint`
        : Effect.succeed([])
      ).pipe(narrow("webhookOutbox.find"), Effect.flatMap(decodeDelivery), Effect.map(Option.map(toDelivery)))

    /**
     * The earliest pending delivery of the same endpoint and request with a lower `seq`, if its job can
     * still run (a delivery whose job was cancelled, given up or pruned holds nothing back).
     */
    const blocker = (delivery: Delivery) =>
      sql<{ seq: number; state: string; run_at: Date; waiting_for_slot: boolean }>`
        SELECT o.seq, j.state::text AS state, j.run_at, j.waiting_for_slot
          FROM webhook_outbox o JOIN jobs j ON j.id = o.job_id
         WHERE o.endpoint_id = ${delivery.endpointId} AND o.callback_id = ${delivery.callbackId}
           AND o.state = 'pending' AND o.seq < ${delivery.seq}
           AND j.state <> ALL(${[...TerminalStates]}::job_state[])
         ORDER BY o.seq LIMIT 1`.pipe(
        narrow("webhookOutbox.blocker"),
        Effect.map(([row]): Blocker | undefined => (row === undefined ? undefined : { seq: row.seq, jobState: row.state, runAt: row.run_at, waitingForSlot: row.waiting_for_slot }))
      )

    /** Logs an attempt and counts it on its delivery; the attempt's id. */
    const recordAttempt = (attempt: AttemptRecord) =>
      sql<{ id: string }>`
        WITH counted AS (
          UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ${attempt.outcome === "delivered" ? null : (attempt.error ?? `HTTP ${attempt.statusCode ?? "?"}`)}
           WHERE id = ${attempt.delivery.id}::bigint)
        INSERT INTO webhook_attempts (outbox_id, endpoint_id, event_id, event_type, outcome, status_code, error, latency_ms, response_excerpt)
        VALUES (${attempt.delivery.id}::bigint, ${attempt.delivery.endpointId}, ${attempt.delivery.eventId}, ${attempt.delivery.eventType}, ${attempt.outcome},
                ${attempt.statusCode ?? null}, ${attempt.error ?? null}, ${Math.max(0, Math.round(attempt.latencyMs))}, ${attempt.responseExcerpt ?? null})
        RETURNING id::text`.pipe(narrow("webhookOutbox.recordAttempt"), Effect.map(([row]) => row?.id ?? ""))

    /** Ends a pending delivery as delivered or dead; whether it was still pending. */
    const finish = (id: string, state: "delivered" | "dead", error?: string) =>
      sql`
        UPDATE webhook_outbox SET state = ${state}, finished_at = now(), last_error = coalesce(${error ?? null}, last_error)
         WHERE id = ${id}::bigint AND state = 'pending' RETURNING id`.pipe(
        narrow("webhookOutbox.finish"),
        Effect.map((rows) => rows.length > 0)
      )

    /**
     * Opens a delivery again for a replay by job `jobId` (same event, same endpoint, a new retry window);
     * false when it is pending with a job that can still run (there is nothing to replay).
     */
    const reopen = (id: string, jobId: string) =>
      sql`
        UPDATE webhook_outbox o SET state = 'pending', finished_at = NULL, retry_from = now(), job_id = ${jobId}::bigint
         WHERE o.id = ${id}::bigint
           AND (o.state <> 'pending'
                OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.job_id AND j.state <> ALL(${[...TerminalStates]}::job_state[])))
        RETURNING o.id`.pipe(
        narrow("webhookOutbox.reopen"),
        Effect.map((rows) => rows.length > 0)
      )

    /** The attempt `attemptId` of endpoint `endpointId` and its delivery, for a replay. */
    const attemptDelivery = (endpointId: string, attemptId: string) =>
      (isOutboxId(attemptId)
        ? sql`
            SELECT o.id::text, o.endpoint_id, o.event_id, o.callback_id, o.seq, o.event_type, o.state, o.job_id::text, o.retry_from
              FROM webhook_attempts a JOIN webhook_outbox o ON o.id = a.outbox_id
             WHERE a.id = ${attemptId}::bigint AND a.endpoint_id = ${endpointId}`
        : Effect.succeed([])
      ).pipe(narrow("webhookOutbox.attemptDelivery"), Effect.flatMap(decodeDelivery), Effect.map(Option.map(toDelivery)))

    /** The delivery log of an endpoint, newest first, before attempt `before` when given. */
    const attempts = (endpointId: string, limit: number, before: string | undefined) =>
      sql`
        SELECT a.id::text, a.event_id, a.event_type, a.outcome, a.status_code, a.error, a.latency_ms, a.response_excerpt, a.at,
               o.state AS delivery_state
          FROM webhook_attempts a JOIN webhook_outbox o ON o.id = a.outbox_id
         WHERE a.endpoint_id = ${endpointId}
           AND ${before === undefined || !isOutboxId(before) ? sql`true` : sql`a.id < ${before}::bigint`}
         ORDER BY a.id DESC LIMIT ${limit}`.pipe(narrow("webhookOutbox.attempts"), Effect.flatMap(decodeRows(AttemptRow)))

    /**
     * An endpoint enabled again: its pending deliveries get a new retry window and their jobs (snoozed
     * while it was disabled, or waiting to retry) run now. A job move the transition table allows (promote).
     */
    const resume = (endpointId: string) =>
      sql<{ n: number }>`
        WITH pending AS (
          UPDATE webhook_outbox SET retry_from = now() WHERE endpoint_id = ${endpointId} AND state = 'pending' RETURNING job_id
        ), woken AS (
          UPDATE jobs SET state = 'available', run_at = now(), waiting_for_slot = false
            FROM pending WHERE jobs.id = pending.job_id AND jobs.state = ANY(${[...sourcesOf("promote")]}::job_state[])
          RETURNING jobs.id
        )
        SELECT count(*)::int AS n, pg_notify(${JOBS_CHANNEL}, ${WebhookDeliver.queue}) FROM woken`.pipe(
        narrow("webhookOutbox.resume"),
        Effect.map(([row]) => row?.n ?? 0)
      )

    /** Deletes finished deliveries and log entries older than `retention`; how many rows went. */
    const purge = (retention: Duration.DurationInput) =>
      sql<{ n: number }>`
        WITH attempts AS (
          DELETE FROM webhook_attempts WHERE at < now() - ${ms(retention)} * interval '1 millisecond' RETURNING 1
        ), deliveries AS (
          DELETE FROM webhook_outbox WHERE state <> 'pending' AND finished_at < now() - ${ms(retention)} * interval '1 millisecond' RETURNING 1
        )
        SELECT ((SELECT count(*) FROM attempts) + (SELECT count(*) FROM deliveries))::int AS n`.pipe(
        narrow("webhookOutbox.purge"),
        Effect.map(([row]) => row?.n ?? 0)
      )

    const pendingCount = sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_outbox WHERE state = 'pending'`.pipe(
      narrow("webhookOutbox.pendingCount"),
      Effect.map(([row]) => row?.n ?? 0)
    )

    yield* metrics.addSource("webhook_outbox", Effect.map(pendingCount, (n) => metrics.webhookOutboxPending.set(n)))

    return { find, blocker, recordAttempt, finish, reopen, attemptDelivery, attempts, resume, purge, pendingCount }
  })
}) {}
