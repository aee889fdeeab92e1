/**
 * The `webhook_deliveries` table: Twilio's `I-Twilio-Idempotency-Token` of
 * each webhook delivery already applied. Twilio sends the same token on every
 * retry of one delivery. `recordDelivery` runs on the ambient connection, so
 * inside the transaction that applies the report the token and the report's
 * effect commit (or roll back) together: a retry racing the first try waits
 * for its commit on the key, then finds the token; a try that rolled back
 * left no token, so its retry applies. Tokens older than
 * WEBHOOK_TOKEN_TTL_HOURS are dropped by `maintenance.cleanup`
 * (CallbackRetention.ts).
 */
import { SqlClient } from "@effect/sql"
import type { Fragment, Statement } from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { inTransaction } from "../db/Transaction.ts"
import { Metrics } from "../observability/Metrics.ts"

/** How long a token is kept: Twilio gives up retrying long before. */
export const WEBHOOK_TOKEN_TTL_HOURS = 24

/** The statement that records a delivery's token: it returns the token the first time, nothing for a retry. */
const recordToken = (sql: SqlClient.SqlClient, token: string, route: string) =>
  sql`INSERT INTO webhook_deliveries (token, route) VALUES (${token}, ${route}) ON CONFLICT (token) DO NOTHING RETURNING token`

/** Records `token` as delivered to `route`; true the first time, false for a retry (the token was recorded already). */
export const recordDelivery = (token: string, route: string): Effect.Effect<boolean, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => recordToken(sql, token, route)).pipe(
    Effect.map((rows) => rows.length > 0),
    narrow("webhooks.recordDelivery")
  )

/** One delivery of a Twilio webhook: its idempotency token and the route (a metric label) it came to. */
export interface WebhookDelivery {
  readonly token: string
  readonly route: string
}

/**
 * Runs `apply` once per delivery: in one transaction with the delivery's token recorded. A retry (its token
 * recorded already) runs nothing, is counted in `switchboard_twilio_webhook_retries_total`, and gives `None`.
 * Without a token, `apply` runs as it is.
 */
export const oncePerDelivery = <A, E, R>(delivery: WebhookDelivery | undefined, apply: Effect.Effect<A, E, R>) =>
  delivery === undefined
    ? Effect.map(apply, Option.some)
    : inTransaction(
        Effect.gen(function* () {
          if (yield* recordDelivery(delivery.token, delivery.route)) return Option.some(yield* apply)
          yield* retryIgnored(delivery)
          return Option.none<A>()
        })
      )

/**
 * {@link oncePerDelivery} for a change that is one statement, in one round trip and no transaction:
 * `statement(guard)` must require `guard` in its WHERE clause, and the token is recorded by the same
 * statement (a CTE), so the two commit together or not at all. Whether it was applied; a retry applies
 * nothing and is counted. `operation` names the statement in logs and metrics.
 */
export const oncePerDeliveryStatement = (
  delivery: WebhookDelivery | undefined,
  operation: string,
  statement: (guard: Fragment) => Statement<unknown>
): Effect.Effect<boolean, DatabaseError, SqlClient.SqlClient | Metrics> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (delivery === undefined) return yield* Effect.as(statement(sql`true`), true).pipe(narrow(operation))
    const [row] = yield* sql<{ fresh: boolean }>`
      WITH delivered AS (${recordToken(sql, delivery.token, delivery.route)}),
           applied AS (${statement(sql`EXISTS (SELECT 1 FROM delivered)`)} RETURNING 1)
      SELECT EXISTS (SELECT 1 FROM delivered) AS fresh`.pipe(narrow(operation))
    if (row?.fresh === true) return true
    yield* retryIgnored(delivery)
    return false
  })

/** A delivery whose token was applied already: counted in `switchboard_twilio_webhook_retries_total`, logged at debug. */
const retryIgnored = (delivery: WebhookDelivery) =>
  Effect.flatMap(Metrics, (metrics) =>
    Effect.zipRight(
      Effect.sync(() => metrics.twilioWebhookRetries.inc({ route: delivery.route })),
      Effect.logDebug(`Twilio webhook retry on ${delivery.route} (token applied already): ignored`)
    )
  )
