/**
 * The `webhook_endpoints` table (migrations/0009_webhooks.sql): a business's
 * endpoints, their secrets, and the run of failed attempts that disables one.
 * Statements run on the ambient connection, so inside `inTransaction` they
 * join the caller's transaction; disabling and enabling record their
 * operational event (`webhook.endpoint_disabled` / `_enabled`) in it.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { HistoryEventType } from "../../domain/callbacks/History.ts"
import { type DisablePolicy, disableReason, shouldDisable, WebhookEndpoint } from "../../domain/callbacks/Webhooks.ts"
import { narrow } from "../db/DatabaseError.ts"
import { recordOperational } from "./HistoryStore.ts"
import { decodeFirst, decodeRows } from "./Rows.ts"

const absent = <A>(value: A | null): A | undefined => value ?? undefined
const orNull = <A>(value: A | undefined): A | null => value ?? null

const EndpointColumns = Schema.Struct({
  id: Schema.String,
  business_id: Schema.String,
  url: Schema.String,
  description: Schema.NullOr(Schema.String),
  event_types: Schema.Array(Schema.String),
  secret: Schema.String,
  previous_secret: Schema.NullOr(Schema.String),
  previous_secret_until: Schema.NullOr(Schema.DateFromSelf),
  enabled: Schema.Boolean,
  disabled_at: Schema.NullOr(Schema.DateFromSelf),
  disabled_reason: Schema.NullOr(Schema.String),
  consecutive_failures: Schema.Number,
  failing_since: Schema.NullOr(Schema.DateFromSelf),
  created_at: Schema.DateFromSelf,
  updated_at: Schema.DateFromSelf
}).annotations({ identifier: "WebhookEndpointRow" })

/** A `webhook_endpoints` row as a {@link WebhookEndpoint}. */
export const EndpointRow = Schema.transform(EndpointColumns, Schema.typeSchema(WebhookEndpoint), {
  strict: false,
  decode: (row) => ({
    id: row.id,
    businessId: row.business_id,
    url: row.url,
    description: absent(row.description),
    eventTypes: row.event_types,
    secret: row.secret,
    previousSecret: absent(row.previous_secret),
    previousSecretUntil: absent(row.previous_secret_until),
    enabled: row.enabled,
    disabledAt: absent(row.disabled_at),
    disabledReason: absent(row.disabled_reason),
    consecutiveFailures: row.consecutive_failures,
    failingSince: absent(row.failing_since),
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }),
  encode: (e) => ({
    id: e.id,
    business_id: e.businessId,
    url: e.url,
    description: orNull(e.description),
    event_types: e.eventTypes,
    secret: e.secret,
    previous_secret: orNull(e.previousSecret),
    previous_secret_until: orNull(e.previousSecretUntil),
    enabled: e.enabled,
    disabled_at: orNull(e.disabledAt),
    disabled_reason: orNull(e.disabledReason),
    consecutive_failures: e.consecutiveFailures,
    failing_since: orNull(e.failingSince),
    created_at: e.createdAt,
    updated_at: e.updatedAt
  })
})

export interface NewEndpoint {
  readonly id: string
  readonly businessId: string
  readonly url: string
  readonly description: string | undefined
  readonly eventTypes: ReadonlyArray<HistoryEventType>
  readonly secret: string
}

export interface EndpointChange {
  readonly url?: string | undefined
  readonly description?: string | null | undefined
  readonly eventTypes?: ReadonlyArray<HistoryEventType> | undefined
}

/** What a failed attempt did to its endpoint's run of failures. */
export interface FailureRun {
  readonly failures: number
  readonly since: Date
  /** This attempt disabled the endpoint (and recorded `webhook.endpoint_disabled`). */
  readonly disabled: boolean
  readonly reason?: string | undefined
}

const millis = (d: Duration.DurationInput) => Math.max(0, Math.round(Duration.toMillis(d)))

export class WebhookEndpoints extends Effect.Service<WebhookEndpoints>()("switchboard/infra/WebhookEndpoints", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const one = decodeFirst(EndpointRow)

    const create = (endpoint: NewEndpoint) =>
      sql`
        INSERT INTO webhook_endpoints (id, business_id, url, description, event_types, secret)
        VALUES (${endpoint.id}, ${endpoint.businessId}, ${endpoint.url}, ${endpoint.description ?? null}, ${[...endpoint.eventTypes]}::text[], ${endpoint.secret})
        RETURNING *`.pipe(
        narrow("webhookEndpoints.create"),
        Effect.flatMap(one),
        Effect.flatMap(Option.match({ onNone: () => Effect.dieMessage("INSERT ... RETURNING gave no row"), onSome: Effect.succeed }))
      )

    const find = (id: string) => sql`SELECT * FROM webhook_endpoints WHERE id = ${id}`.pipe(narrow("webhookEndpoints.find"), Effect.flatMap(one))

    /** A business's endpoints, oldest first, after the endpoint `after` when given. */
    const list = (businessId: string, limit: number, after: string | undefined) =>
      sql`
        SELECT * FROM webhook_endpoints
         WHERE business_id = ${businessId}
           AND ${after === undefined ? sql`true` : sql`(created_at, id) > (SELECT created_at, id FROM webhook_endpoints WHERE id = ${after})`}
         ORDER BY created_at, id LIMIT ${limit}`.pipe(narrow("webhookEndpoints.list"), Effect.flatMap(decodeRows(EndpointRow)))

    /** Changes the fields named; none when there is no such endpoint. */
    const update = (id: string, change: EndpointChange) =>
      sql`
        UPDATE webhook_endpoints SET
               url = coalesce(${change.url ?? null}, url),
               description = CASE WHEN ${change.description === undefined} THEN description ELSE ${change.description ?? null} END,
               event_types = coalesce(${change.eventTypes === undefined ? null : [...change.eventTypes]}::text[], event_types),
               updated_at = now()
         WHERE id = ${id}
        RETURNING *`.pipe(narrow("webhookEndpoints.update"), Effect.flatMap(one))

    /** Deletes an endpoint with its deliveries and their log; whether there was one. */
    const remove = (id: string) =>
      sql`DELETE FROM webhook_endpoints WHERE id = ${id} RETURNING id`.pipe(
        narrow("webhookEndpoints.remove"),
        Effect.map((rows) => rows.length > 0)
      )

    /** A new secret; the current one keeps signing for `overlap` (not at all when zero). */
    const rotate = (id: string, secret: string, overlap: Duration.DurationInput) =>
      sql`
        UPDATE webhook_endpoints SET
               previous_secret = CASE WHEN ${millis(overlap)} > 0 THEN secret END,
               previous_secret_until = CASE WHEN ${millis(overlap)} > 0 THEN now() + ${millis(overlap)} * interval '1 millisecond' END,
               secret = ${secret}, updated_at = now()
         WHERE id = ${id}
        RETURNING *`.pipe(narrow("webhookEndpoints.rotate"), Effect.flatMap(one))

    /** A delivered attempt ends the run of failures. */
    const recordSuccess = (id: string) =>
      sql`
        UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL
         WHERE id = ${id} AND consecutive_failures > 0`.pipe(Effect.asVoid, narrow("webhookEndpoints.recordSuccess"))

    /**
     * Counts a failed attempt into the endpoint's run; when the run reaches the policy the
     * endpoint is disabled, with its reason and an operational event. Call it in a transaction
     * (the row is locked until it ends); none when the endpoint is gone.
     */
    const recordFailure = (id: string, policy: DisablePolicy, lastError: string) =>
      Effect.gen(function* () {
        const [row] = yield* sql<{ business_id: string; url: string; enabled: boolean; consecutive_failures: number; failing_since: Date | null; now: Date }>`
          SELECT business_id, url, enabled, consecutive_failures, failing_since, now() AS now
            FROM webhook_endpoints WHERE id = ${id} FOR UPDATE`
        if (row === undefined) return Option.none<FailureRun>()
        const run = { failures: row.consecutive_failures + 1, since: row.failing_since ?? row.now }
        const disable = row.enabled && shouldDisable(run, row.now, policy)
        const reason = disable ? disableReason(run, lastError) : undefined
        yield* sql`
          UPDATE webhook_endpoints SET consecutive_failures = ${run.failures}, failing_since = ${run.since},
                 enabled = ${row.enabled && !disable},
                 disabled_at = CASE WHEN ${disable} THEN now() ELSE disabled_at END,
                 disabled_reason = CASE WHEN ${disable} THEN ${reason ?? null} ELSE disabled_reason END,
                 updated_at = CASE WHEN ${disable} THEN now() ELSE updated_at END
           WHERE id = ${id}`
        if (disable) {
          yield* recordOperational(sql, { type: "webhook.endpoint_disabled", subject: id, businessId: row.business_id, data: { url: row.url, reason } })
        }
        return Option.some<FailureRun>({ ...run, disabled: disable, reason })
      }).pipe(narrow("webhookEndpoints.recordFailure"))

    /**
     * Enables a disabled endpoint (its run of failures forgotten) and records `webhook.endpoint_enabled`;
     * `wasDisabled` false when it was enabled already (nothing changes). None when there is no such endpoint.
     */
    const enable = (id: string, reason: string) =>
      Effect.gen(function* () {
        const [before] = yield* sql<{ enabled: boolean }>`SELECT enabled FROM webhook_endpoints WHERE id = ${id} FOR UPDATE`
        if (before === undefined) return Option.none<{ readonly endpoint: WebhookEndpoint; readonly wasDisabled: boolean }>()
        const endpoint = yield* sql`
          UPDATE webhook_endpoints SET enabled = true, disabled_at = NULL, disabled_reason = NULL,
                 consecutive_failures = 0, failing_since = NULL, updated_at = CASE WHEN enabled THEN updated_at ELSE now() END
           WHERE id = ${id}
          RETURNING *`.pipe(Effect.flatMap(one))
        if (Option.isNone(endpoint)) return Option.none()
        if (!before.enabled) {
          yield* recordOperational(sql, {
            type: "webhook.endpoint_enabled",
            subject: id,
            businessId: endpoint.value.businessId,
            data: { url: endpoint.value.url, reason }
          })
        }
        return Option.some({ endpoint: endpoint.value, wasDisabled: !before.enabled })
      }).pipe(narrow("webhookEndpoints.enable"))

    /** Disables an enabled endpoint by hand, recording `webhook.endpoint_disabled`; none when there is no such endpoint. */
    const disable = (id: string, reason: string) =>
      Effect.gen(function* () {
        const [before] = yield* sql<{ enabled: boolean }>`SELECT enabled FROM webhook_endpoints WHERE id = ${id} FOR UPDATE`
        if (before === undefined) return Option.none<WebhookEndpoint>()
        const endpoint = yield* sql`
          UPDATE webhook_endpoints SET enabled = false, disabled_at = coalesce(disabled_at, now()), disabled_reason = coalesce(disabled_reason, ${reason}),
                 updated_at = CASE WHEN enabled THEN now() ELSE updated_at END
           WHERE id = ${id}
          RETURNING *`.pipe(Effect.flatMap(one))
        if (before.enabled && Option.isSome(endpoint)) {
          yield* recordOperational(sql, { type: "webhook.endpoint_disabled", subject: id, businessId: endpoint.value.businessId, data: { url: endpoint.value.url, reason } })
        }
        return endpoint
      }).pipe(narrow("webhookEndpoints.disable"))

    return { create, find, list, update, remove, rotate, recordSuccess, recordFailure, enable, disable }
  })
}) {}
