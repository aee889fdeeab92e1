/**
 * The webhook tables against PostgreSQL: the outbox trigger (one row and one
 * job per matching enabled endpoint, nothing for a business without endpoints
 * or a disabled one), the ordering blocker, the failure run that disables an
 * endpoint (with its operational event), resume, and retention.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { HistoryEventType } from "../../../domain/callbacks/History.ts"
import { BusinessStore } from "../../../infra/callbacks/BusinessStore.ts"
import { HistoryStore } from "../../../infra/callbacks/HistoryStore.ts"
import { RequestStore } from "../../../infra/callbacks/RequestStore.ts"
import { WebhookEndpoints } from "../../../infra/callbacks/WebhookEndpoints.ts"
import { WebhookOutbox } from "../../../infra/callbacks/WebhookOutbox.ts"
import { newSecret } from "../../../infra/callbacks/WebhookSigning.ts"
import { inTransaction } from "../../../infra/db/Transaction.ts"
import { businessInput, callbackStoresRuntime, visitorPhone } from "../../support/callbackStores.ts"
import { cloneDatabase, query } from "../../support/database.ts"

describe("webhook outbox", () => {
  let url: string
  let stores: ReturnType<typeof callbackStoresRuntime>
  beforeAll(async () => {
    url = await cloneDatabase()
    stores = callbackStoresRuntime(url)
  })
  afterAll(() => stores.dispose())

  const business = () => stores.runPromise(Effect.flatMap(BusinessStore, (s) => s.create(randomUUID(), businessInput({ phone: visitorPhone() }))))
  const endpoint = (businessId: string, eventTypes: ReadonlyArray<HistoryEventType> = []) =>
    stores.runPromise(Effect.flatMap(WebhookEndpoints, (s) => s.create({ id: randomUUID(), businessId, url: "https://hooks.example.com/x", description: undefined, eventTypes, secret: newSecret() })))
  const request = (businessId: string) =>
    stores.runPromise(
      Effect.flatMap(RequestStore, (s) => s.create({ id: randomUUID(), businessId, phone: visitorPhone(), name: undefined, note: undefined, priority: "normal", traceparent: undefined }))
    )
  const append = (callbackId: string) => stores.runPromise(Effect.flatMap(HistoryStore, (h) => h.append(callbackId, "sms.sent", { messageId: randomUUID(), kind: "fallback" })))
  const outboxOf = (callbackId: string) =>
    query<{ id: string; endpoint_id: string; seq: number; event_type: string; job_id: string; kind: string; key: string }>(
      url,
      "SELECT o.id, o.endpoint_id, o.seq, o.event_type, o.job_id, j.kind, j.concurrency_key AS key FROM webhook_outbox o JOIN jobs j ON j.id = o.job_id WHERE o.callback_id = $1 ORDER BY o.seq, o.endpoint_id",
      [callbackId]
    )

  it("writes one row and one job per matching enabled endpoint, and nothing for a business without endpoints", async () => {
    const lonely = await business()
    const quiet = await request(lonely.id)
    await append(quiet.id)
    expect(await outboxOf(quiet.id)).toEqual([])
    expect(await query(url, "SELECT 1 FROM jobs WHERE args ->> 'callbackId' = $1", [quiet.id])).toEqual([])

    const shop = await business()
    const all = await endpoint(shop.id)
    const sent = await endpoint(shop.id, ["sms.sent"])
    const off = await endpoint(shop.id)
    await stores.runPromise(inTransaction(Effect.flatMap(WebhookEndpoints, (s) => s.disable(off.id, "test"))))
    const busy = await request(shop.id)
    await append(busy.id)
    const rows = await outboxOf(busy.id)
    expect(rows.map((r) => [r.seq, r.event_type, r.endpoint_id]).sort()).toEqual(
      [[1, "callback.created", all.id], [2, "sms.sent", all.id], [2, "sms.sent", sent.id]].sort()
    )
    for (const row of rows) {
      expect(row.kind).toBe("webhooks.deliver")
      expect(row.key).toBe(`webhook:${row.endpoint_id}:${busy.id}`)
    }
  })

  it("an earlier pending delivery blocks a later one while its job can run", async () => {
    const shop = await business()
    const target = await endpoint(shop.id)
    const created = await request(shop.id)
    await append(created.id)
    const [first, second] = await outboxOf(created.id)
    const later = await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.find(second?.id ?? "")))
    if (Option.isNone(later)) throw new Error("no delivery")
    expect(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.blocker(later.value)))).toMatchObject({ seq: 1, jobState: "available" })
    await query(url, "UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id = $1", [first?.job_id])
    expect(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.blocker(later.value)))).toBeUndefined()
    expect(target.enabled).toBe(true)
  })

  it("counts failures into a run that disables the endpoint once, with an operational event; a success ends the run", async () => {
    const shop = await business()
    const target = await endpoint(shop.id)
    const fail = () => stores.runPromise(inTransaction(Effect.flatMap(WebhookEndpoints, (s) => s.recordFailure(target.id, { failures: 3, afterMs: 0 }, "HTTP 500"))))
    expect(Option.getOrThrow(await fail())).toMatchObject({ failures: 1, disabled: false })
    await stores.runPromise(Effect.flatMap(WebhookEndpoints, (s) => s.recordSuccess(target.id)))
    expect(Option.getOrThrow(await fail())).toMatchObject({ failures: 1, disabled: false })
    expect(Option.getOrThrow(await fail())).toMatchObject({ failures: 2, disabled: false })
    expect(Option.getOrThrow(await fail())).toMatchObject({ failures: 3, disabled: true, reason: expect.stringMatching(/^3 consecutive failed deliveries since .*; last: HTTP 500$/) as unknown as string })
    expect(Option.getOrThrow(await fail())).toMatchObject({ failures: 4, disabled: false })
    const events = await query<{ type: string; business_id: string }>(url, "SELECT type, business_id FROM operational_events WHERE subject = $1", [target.id])
    expect(events).toEqual([{ type: "webhook.endpoint_disabled", business_id: shop.id }])
    const enabled = await stores.runPromise(inTransaction(Effect.flatMap(WebhookEndpoints, (s) => s.enable(target.id, "test"))))
    expect(Option.getOrThrow(enabled)).toMatchObject({ wasDisabled: true, endpoint: { enabled: true, consecutiveFailures: 0 } })
    expect(Option.getOrThrow(await stores.runPromise(inTransaction(Effect.flatMap(WebhookEndpoints, (s) => s.enable(target.id, "test")))))).toMatchObject({ wasDisabled: false })
    expect((await query(url, "SELECT type FROM operational_events WHERE subject = $1 ORDER BY position", [target.id])).map((r) => r["type"])).toEqual([
      "webhook.endpoint_disabled",
      "webhook.endpoint_enabled"
    ])
  })

  it("resume runs an endpoint's waiting jobs now; purge drops finished deliveries and attempts past retention, never pending ones", async () => {
    const shop = await business()
    const target = await endpoint(shop.id)
    const created = await request(shop.id)
    await append(created.id)
    const [first, second] = await outboxOf(created.id)
    await query(url, "UPDATE jobs SET state = 'scheduled', run_at = now() + interval '1 hour' WHERE id = ANY($1::bigint[])", [[first?.job_id, second?.job_id]])
    expect(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.resume(target.id)))).toBe(2)
    expect(await query(url, "SELECT state::text FROM jobs WHERE id = ANY($1::bigint[])", [[first?.job_id, second?.job_id]])).toEqual([{ state: "available" }, { state: "available" }])

    const delivery = Option.getOrThrow(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.find(first?.id ?? ""))))
    await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.recordAttempt({ delivery, outcome: "delivered", statusCode: 200, latencyMs: 12 })))
    expect(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.finish(delivery.id, "delivered")))).toBe(true)
    expect(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.finish(delivery.id, "dead")))).toBe(false)
    await query(url, "UPDATE webhook_outbox SET finished_at = now() - interval '40 days' WHERE id = $1", [first?.id])
    await query(url, "UPDATE webhook_outbox SET created_at = now() - interval '40 days' WHERE callback_id = $1", [created.id])
    await query(url, "UPDATE webhook_attempts SET at = now() - interval '40 days' WHERE outbox_id = $1", [first?.id])
    expect(await stores.runPromise(Effect.flatMap(WebhookOutbox, (o) => o.purge("30 days")))).toBe(2)
    expect((await outboxOf(created.id)).map((r) => r.id)).toEqual([second?.id])
  })
})
