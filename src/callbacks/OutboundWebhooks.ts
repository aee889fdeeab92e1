/**
 * `webhooks.deliver`: sends one committed event of a callback request to one
 * webhook endpoint (docs/webhooks.md).
 *
 * ```
 *   outbox row pending ──2xx──────────────────────────────► delivered
 *        │   ├─ other status / network error / timeout ──► Retryable (backoff of WebhookDeliver)
 *        │   │                                             or dead once its retry window is over
 *        │   └─ destination refused (SSRF rules) ─────────► dead at once (Permanent)
 *        ├─ an earlier seq of the same endpoint and request is pending ─► Snooze (no attempt spent)
 *        └─ the endpoint is disabled ──────────────────────────────────► Snooze until enabled again
 * ```
 *
 * Ordering per (endpoint, request) rests on two things: the job's concurrency
 * key `webhook:<endpoint>:<request>` (limit 1) keeps two of them from running
 * at once, and a delivery never sends while one with a lower `seq` is still
 * pending; it snoozes until that one's next run instead. At least once: an
 * attempt whose answer was lost (a crash between the 2xx and the commit) is
 * sent again under the same `webhook-id`, which receivers dedupe on.
 *
 * Every attempt is logged (status or error, latency, a 1 KiB excerpt), and
 * counts into the endpoint's run of failures, which disables the endpoint when
 * it reaches WEBHOOK_DISABLE_AFTER_FAILURES over WEBHOOK_DISABLE_AFTER.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { HistoryEvent } from "../../domain/callbacks/History.ts"
import { WebhookDeliver } from "../../domain/callbacks/Jobs.ts"
import { envelope, previousStillSigns, windowOver } from "../../domain/callbacks/Webhooks.ts"
import type { JobDefinition } from "../../domain/jobs/JobDefinition.ts"
import { Permanent, Retryable, Snooze } from "../../domain/jobs/JobErrors.ts"
import { HistoryStore } from "../../infra/callbacks/HistoryStore.ts"
import { disablePolicyOf, WebhookConfig } from "../../infra/callbacks/WebhookConfig.ts"
import { WebhookEndpoints } from "../../infra/callbacks/WebhookEndpoints.ts"
import { type Blocker, WebhookOutbox } from "../../infra/callbacks/WebhookOutbox.ts"
import { signatureHeader } from "../../infra/callbacks/WebhookSigning.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { safePost } from "../../infra/http/SafeFetch.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { handle, type JobContext } from "../../supervisors/JobRegistry.ts"
import { asJobFailure } from "./JobFailures.ts"

export const USER_AGENT = "Switchboard-Webhooks"

/** How often a delivery for a disabled endpoint looks again (enabling it wakes them at once anyway). */
const DISABLED_RECHECK = Duration.hours(1)
/** Slack after the earlier delivery's next run, so that it has taken its slot by then. */
const BEHIND = 500

/** How long to wait behind an earlier pending delivery: until its next run when it waits for one, else a moment. */
const waitBehind = (blocker: Blocker, nowMs: number): Duration.Duration => {
  const scheduled = (blocker.jobState === "scheduled" || blocker.jobState === "retryable") && !blocker.waitingForSlot
  const ms = scheduled ? Math.max(0, blocker.runAt.getTime() - nowMs) + BEHIND : 2 * BEHIND
  return Duration.millis(Math.min(ms, Duration.toMillis(DISABLED_RECHECK)))
}

/** Text Postgres can store (no NUL). */
const storable = (text: string): string => text.replace(/\u0000/g, "")

const encodeEvent = Schema.encodeSync(HistoryEvent)

export const deliver = (outboxId: string, context: Pick<JobContext, "attempt" | "maxAttempts">) =>
  Effect.gen(function* () {
    const outbox = yield* WebhookOutbox
    const endpoints = yield* WebhookEndpoints
    const history = yield* HistoryStore
    const settings = yield* WebhookConfig
    const metrics = yield* Metrics

    const found = yield* outbox.find(outboxId)
    if (Option.isNone(found) || found.value.state !== "pending") return // delivered, dead, or its endpoint deleted
    const delivery = found.value
    const endpoint = Option.getOrUndefined(yield* endpoints.find(delivery.endpointId))
    if (endpoint === undefined) return
    if (!endpoint.enabled) return yield* Snooze.for(DISABLED_RECHECK, "the endpoint is disabled")
    const blocker = yield* outbox.blocker(delivery)
    if (blocker !== undefined) return yield* Snooze.for(waitBehind(blocker, yield* Clock.currentTimeMillis), `event ${blocker.seq} of the request goes first`, "concurrency")

    const [event] = yield* history.ofRequest(delivery.callbackId, delivery.seq - 1, 1)
    if (event === undefined || event.id !== delivery.eventId) {
      yield* outbox.finish(delivery.id, "dead", "the event no longer exists")
      return
    }
    const body = JSON.stringify(envelope(encodeEvent(event)))
    const started = yield* Clock.currentTimeMillis
    const timestamp = Math.floor(started / 1000)
    const secrets = previousStillSigns(endpoint, new Date(started)) && endpoint.previousSecret !== undefined ? [endpoint.secret, endpoint.previousSecret] : [endpoint.secret]
    const result = yield* safePost({
      url: endpoint.url,
      body,
      timeout: settings.timeout,
      allowPrivate: settings.allowPrivate,
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.eventId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signatureHeader(secrets, delivery.eventId, timestamp, body)
      }
    }).pipe(Effect.either)
    const latencyMs = (yield* Clock.currentTimeMillis) - started
    const answered = Either.getRight(result)
    const statusCode = Option.getOrUndefined(Option.map(answered, (r) => r.status))
    const responseExcerpt = Option.getOrUndefined(Option.map(answered, (r) => storable(r.excerpt)))

    if (statusCode !== undefined && statusCode >= 200 && statusCode < 300) {
      yield* inTransaction(
        Effect.all([
          outbox.recordAttempt({ delivery, outcome: "delivered", statusCode, latencyMs, responseExcerpt }),
          outbox.finish(delivery.id, "delivered"),
          endpoints.recordSuccess(endpoint.id)
        ])
      )
      metrics.webhookDeliveries.inc({ outcome: "delivered" })
      metrics.webhookDeliveryDuration.observe({ outcome: "delivered" }, latencyMs / 1000)
      return
    }

    const refused = Either.isLeft(result) && result.left._tag === "DestinationRefused"
    const outcome = refused ? "refused" : "failed"
    const error = storable(Either.isLeft(result) ? result.left.message : `the endpoint answered ${statusCode ?? "?"}`)
    const dead = refused || context.attempt >= context.maxAttempts || windowOver(delivery.retryFrom, new Date(started), Duration.toMillis(settings.retryWindow))
    const run = yield* inTransaction(
      Effect.gen(function* () {
        yield* outbox.recordAttempt({ delivery, outcome, statusCode, error: Either.isLeft(result) ? error : undefined, latencyMs, responseExcerpt })
        if (dead) yield* outbox.finish(delivery.id, "dead", error)
        return yield* endpoints.recordFailure(endpoint.id, disablePolicyOf(settings), error)
      })
    )
    metrics.webhookDeliveries.inc({ outcome })
    metrics.webhookDeliveryDuration.observe({ outcome }, latencyMs / 1000)
    if (Option.isSome(run) && run.value.disabled) {
      metrics.webhookEndpointsDisabled.inc()
      yield* Effect.logWarning(`webhook endpoint ${endpoint.id} (${endpoint.url}) disabled: ${run.value.reason ?? error}`)
    }
    if (dead) {
      metrics.webhookDeliveries.inc({ outcome: "dead" })
      return yield* new Permanent({ message: `event ${delivery.eventId} to ${endpoint.url} given up: ${error}` })
    }
    return yield* new Retryable({ message: `event ${delivery.eventId} to ${endpoint.url}: ${error}` })
  }).pipe(
    asJobFailure,
    Effect.withSpan("webhooks.deliver", { attributes: { "webhook.outbox_id": outboxId } })
  )

/** The handler of a delivery definition: `WebhookDeliver`, or (in tests) one with another retry policy. */
export const deliveryHandler = (definition: JobDefinition<typeof WebhookDeliver.args.Type, typeof WebhookDeliver.args.Encoded> = WebhookDeliver) =>
  handle(definition, (args, context) => deliver(args.outboxId, context))

export const DeliverHandler = deliveryHandler()
