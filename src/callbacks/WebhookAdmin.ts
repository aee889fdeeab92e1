/**
 * The admin API's use cases for outbound webhooks (docs/webhooks.md):
 * endpoints (create with a secret shown once, list, change, enable again,
 * delete), secret rotation with an overlap, the delivery log, and replay.
 * An operator reaches every business's endpoints; a business's secret key
 * (`within`, its business) only its own.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { HistoryEventType } from "../../domain/callbacks/History.ts"
import { WebhookDeliver } from "../../domain/callbacks/Jobs.ts"
import { deliveryKey } from "../../domain/callbacks/Webhooks.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { WebhookConfig, type WebhookSettings } from "../../infra/callbacks/WebhookConfig.ts"
import { WebhookEndpoints } from "../../infra/callbacks/WebhookEndpoints.ts"
import { WebhookOutbox } from "../../infra/callbacks/WebhookOutbox.ts"
import { newSecret } from "../../infra/callbacks/WebhookSigning.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { literalRefusal } from "../../infra/http/SafeFetch.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { Conflict, lookUp, NotFound, validationFailedAt } from "../Failures.ts"

export interface EndpointFields {
  readonly url: string
  readonly eventTypes: ReadonlyArray<HistoryEventType>
  readonly description?: string | undefined
}

export interface EndpointPatch {
  readonly url?: string | undefined
  readonly eventTypes?: ReadonlyArray<HistoryEventType> | undefined
  readonly description?: string | null | undefined
  readonly enabled?: boolean | undefined
}

/** Why this deployment does not send to `text` (an absolute http(s) URL, as the contract checked); none when it may. */
export const urlProblem = (text: string, settings: Pick<WebhookSettings, "requireHttps" | "allowPrivate">): string | undefined => {
  const url = new URL(text)
  if (settings.requireHttps && url.protocol !== "https:") return "must be an https URL in production"
  return settings.allowPrivate ? undefined : literalRefusal(url)
}

const checkUrl = (url: string | undefined) =>
  Effect.flatMap(WebhookConfig, (settings) => {
    const problem = url === undefined ? undefined : urlProblem(url, settings)
    return problem === undefined ? Effect.void : Effect.fail(validationFailedAt("body", "/url", problem))
  })

const business = (id: string) => Effect.flatMap(BusinessStore, (store) => lookUp("business", id, store.find))

/**
 * The endpoint, or `NotFound`; with `within` (a business key's business), `NotFound` too for
 * another business's endpoint, as if there were none.
 */
export const find = (id: string, within?: string) =>
  Effect.flatMap(WebhookEndpoints, (store) =>
    lookUp("webhook endpoint", id, (known) => Effect.map(store.find(known), Option.filter((endpoint) => within === undefined || endpoint.businessId === within)))
  )

/** A new endpoint of business `businessId`, with its secret (shown this once). */
export const create = (businessId: string, fields: EndpointFields) =>
  Effect.gen(function* () {
    yield* business(businessId)
    yield* checkUrl(fields.url)
    const secret = newSecret()
    const endpoint = yield* Effect.flatMap(WebhookEndpoints, (store) =>
      store.create({ id: randomUUID(), businessId, url: fields.url, description: fields.description, eventTypes: [...new Set(fields.eventTypes)], secret })
    )
    return { endpoint, secret }
  })

/** A business's endpoints, oldest first, and the cursor of the next page when the page is full. */
export const list = (businessId: string, limit: number, cursor: string | undefined) =>
  Effect.gen(function* () {
    yield* business(businessId)
    const items = yield* Effect.flatMap(WebhookEndpoints, (store) => store.list(businessId, limit, cursor))
    return { items, nextCursor: items.length === limit ? items[items.length - 1]?.id : undefined }
  })

const orGone = (id: string) => <A>(found: Option.Option<A>): Effect.Effect<A, NotFound> =>
  Option.match(found, { onNone: () => Effect.fail(new NotFound({ detail: `no webhook endpoint ${id}` })), onSome: Effect.succeed })

/**
 * Changes an endpoint's URL, event types or description; `enabled: true` enables a disabled one again
 * (its waiting deliveries run at once, with a new retry window), `enabled: false` disables it by hand.
 */
export const update = (id: string, patch: EndpointPatch, within?: string) =>
  Effect.gen(function* () {
    yield* find(id, within)
    yield* checkUrl(patch.url)
    const endpoints = yield* WebhookEndpoints
    const outbox = yield* WebhookOutbox
    return yield* inTransaction(
      Effect.gen(function* () {
        const changed = yield* endpoints.update(id, patch).pipe(Effect.flatMap(orGone(id)))
        if (patch.enabled === true && !changed.enabled) {
          const enabled = yield* endpoints.enable(id, "enabled by an operator").pipe(Effect.flatMap(orGone(id)))
          yield* outbox.resume(id)
          return enabled.endpoint
        }
        if (patch.enabled === false && changed.enabled) return yield* endpoints.disable(id, "disabled by an operator").pipe(Effect.flatMap(orGone(id)))
        return changed
      })
    )
  })

export const remove = (id: string, within?: string) =>
  find(id, within).pipe(
    Effect.zipRight(Effect.flatMap(WebhookEndpoints, (store) => store.remove(id))),
    Effect.flatMap((removed) => (removed ? Effect.void : Effect.fail(new NotFound({ detail: `no webhook endpoint ${id}` }))))
  )

/** A new secret (shown this once); the old one keeps signing alongside it for WEBHOOK_SECRET_OVERLAP. */
export const rotate = (id: string, within?: string) =>
  Effect.gen(function* () {
    yield* find(id, within)
    const settings = yield* WebhookConfig
    const secret = newSecret()
    const endpoint = yield* Effect.flatMap(WebhookEndpoints, (store) => store.rotate(id, secret, settings.secretOverlap)).pipe(Effect.flatMap(orGone(id)))
    return { endpoint, secret }
  })

/** The endpoint's delivery log, newest first, and the cursor of the next page when the page is full. */
export const deliveries = (id: string, limit: number, cursor: string | undefined, within?: string) =>
  Effect.gen(function* () {
    yield* find(id, within)
    const items = yield* Effect.flatMap(WebhookOutbox, (outbox) => outbox.attempts(id, limit, cursor))
    return { items, nextCursor: items.length === limit ? items[items.length - 1]?.id : undefined }
  })

/**
 * Sends the event of attempt `deliveryId` to the endpoint again (the same `webhook-id`), as a new delivery
 * job with a new retry window; `Conflict` while that delivery is still pending.
 */
export const replay = (id: string, deliveryId: string, within?: string) =>
  Effect.gen(function* () {
    yield* find(id, within)
    const outbox = yield* WebhookOutbox
    const delivery = yield* outbox.attemptDelivery(id, deliveryId).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotFound({ detail: `no delivery ${deliveryId} of webhook endpoint ${id}` })), onSome: Effect.succeed }))
    )
    return yield* inTransaction(
      Effect.gen(function* () {
        const job = yield* enqueue(WebhookDeliver, { outboxId: delivery.id, callbackId: delivery.callbackId }, { concurrencyKey: deliveryKey(id, delivery.callbackId), concurrencyLimit: 1 })
        if (!(yield* outbox.reopen(delivery.id, job.id))) {
          return yield* new Conflict({ detail: `the delivery of event ${delivery.eventId} is still pending; it is not replayed`, extra: { state: "pending" } })
        }
        return { eventId: delivery.eventId, eventType: delivery.eventType, jobId: job.id }
      })
    )
  })
