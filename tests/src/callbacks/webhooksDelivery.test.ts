/**
 * Outbound webhooks end to end (real HTTP, real Postgres, the simulator):
 *
 * - property: a receiver that fails its first N deliveries (N random) still
 *   gets every event of several requests' lifecycles exactly once after
 *   dedupe by `webhook-id`, in `seq` order per request (nothing of a request
 *   arrives before its earlier events were answered 2xx), each body the event
 *   as `GET /v1/callbacks/{id}/events` lists it, each signature verified by
 *   the `standardwebhooks` library;
 * - a transaction that wrote an event and rolled back delivers nothing and
 *   leaves no job (inside it, the trigger had written both);
 * - an endpoint's event types filter what it gets;
 * - secret rotation: during the overlap both signatures are sent, each
 *   verifying with its own secret;
 * - the delivery log (newest first, paginated) and replay (same webhook-id;
 *   409 while pending).
 *
 * The delivery job's retry policy is shortened (tens of milliseconds) by
 * running the app with a copy of its handler.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import { randomUUID } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Schemas } from "../../../clients/switchboard/index.ts"
import { WebhookDeliver } from "../../../domain/callbacks/Jobs.ts"
import { HistoryStore } from "../../../infra/callbacks/HistoryStore.ts"
import { inTransaction } from "../../../infra/db/Transaction.ts"
import { type CallbackApp, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { fastDeliveryHandlers, type OutboundReceiver, type ReceivedDelivery, startOutboundReceiver } from "../../support/outboundReceiver.ts"

type Event = Schemas["CallbackEvent"]

interface Envelope {
  readonly type: string
  readonly timestamp: string
  readonly data: Event
}

const envelopeOf = (d: ReceivedDelivery): Envelope => JSON.parse(d.body) as Envelope

const headersOf = (d: ReceivedDelivery): Record<string, string> =>
  Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]))

describe("outbound webhooks", () => {
  let app: CallbackApp
  let url: string
  let receiver: OutboundReceiver
  beforeAll(async () => {
    url = await cloneDatabase()
    receiver = await startOutboundReceiver()
    app = await startCallbackApp({ databaseUrl: url, handlers: fastDeliveryHandlers, env: { WEBHOOK_TIMEOUT: "2s", WEBHOOK_SECRET_OVERLAP: "1h" } })
  })
  afterAll(async () => {
    await app.dispose()
    await receiver.close()
  })

  const createEndpoint = async (businessId: string, body: Schemas["WebhookEndpointBody"]) => {
    const { data, error, response } = await app.adminClient.POST("/admin/api/businesses/{businessId}/webhooks", { params: { path: { businessId } }, body })
    if (data === undefined) throw new Error(`endpoint not created: ${response.status} ${JSON.stringify(error)}`)
    expect(response.status).toBe(201)
    return data
  }

  const eventsOf = async (id: string): Promise<ReadonlyArray<Event>> => {
    const { data } = await app.client.GET("/v1/callbacks/{id}/events", { params: { path: { id } } })
    return data?.items ?? []
  }

  const pendingOf = async (endpointId: string) =>
    Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM webhook_outbox WHERE endpoint_id = $1 AND state = 'pending'", [endpointId]))[0]?.n)

  /** A request through its whole life: created, verified, called, answered, completed. */
  const completedRequest = async (businessId: string) => {
    const created = await app.verified(businessId)
    await app.waitForStatus(created.id, "completed")
    return created.id
  }

  /** Waits for `ids`' histories to stop growing and every delivery of `endpointId` to finish; the histories. */
  const settle = async (endpointId: string, ids: ReadonlyArray<string>) => {
    let last = -1
    const histories = await eventually(async () => {
      const all = await Promise.all(ids.map(eventsOf))
      const n = all.reduce((sum, events) => sum + events.length, 0)
      const stable = n === last && (await pendingOf(endpointId)) === 0
      last = n
      if (!stable) await new Promise((resolve) => setTimeout(resolve, 200))
      return stable ? all : undefined
    }, 40_000, "the histories and their deliveries to settle")
    return new Map(ids.map((id, i) => [id, histories[i] ?? []]))
  }

  it(
    "property: a receiver failing its first N deliveries gets every event once after dedupe, in seq order per request, each signature verified",
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 2, max: 3 }), async (failFirst, requests) => {
          const path = `/property/${randomUUID()}`
          const business = await app.createBusiness({ maxConcurrentCalls: 3 })
          await app.script(business.phone, "answered", { afterMs: 30, talkMs: 50 })
          const endpoint = await createEndpoint(business.id, { url: receiver.base + path, description: "property" })
          let seen = 0
          receiver.behave((d) => (d.path !== path ? { status: 204 } : ++seen <= failFirst ? { status: seen % 2 === 0 ? 500 : 429, body: "not now" } : { status: 204 }))
          const ids = await Promise.all(Array.from({ length: requests }, () => completedRequest(business.id)))
          const histories = await settle(endpoint.id, ids)

          const got = receiver.received.filter((d) => d.path === path)
          const verifier = new Webhook(endpoint.secret)
          for (const d of got) {
            expect(() => verifier.verify(d.body, headersOf(d))).not.toThrow()
            expect(d.headers["user-agent"]).toBe("Switchboard-Webhooks")
            expect(d.headers["content-type"]).toBe("application/json")
            const body = envelopeOf(d)
            expect(d.headers["webhook-id"]).toBe(body.data.id)
            expect(body.type).toBe(body.data.type)
            expect(body.timestamp).toBe(body.data.at)
          }
          // every event of every request, once after dedupe, as the history lists it
          const byId = new Map(got.map((d) => [d.headers["webhook-id"] as string, envelopeOf(d).data]))
          const expected = [...histories.values()].flat()
          expect(new Set(byId.keys())).toEqual(new Set(expected.map((e) => e.id)))
          for (const event of expected) expect(byId.get(event.id)).toEqual(event)
          expect(got.length).toBe(expected.length + failFirst)
          // per request, never an event before the earlier ones: seq does not go down in arrival order
          for (const id of ids) {
            const seqs = got.map(envelopeOf).filter((b) => b.data.callbackId === id).map((b) => b.data.seq)
            expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
          }
          const log = await app.adminClient.GET("/admin/api/webhooks/{endpointId}/deliveries", { params: { path: { endpointId: endpoint.id }, query: { limit: "500" } } })
          expect(log.data?.items.length).toBe(got.length)
          expect(log.data?.items.filter((a) => a.outcome === "failed").length).toBe(failFirst)
          expect(log.data?.items.every((a) => a.deliveryState === "delivered")).toBe(true)
        }),
        { numRuns: 3 }
      )
    }
  )

  it("a transaction that wrote an event and rolled back delivers nothing and leaves no job", async () => {
    const path = `/rollback/${randomUUID()}`
    receiver.behave(() => ({ status: 204 }))
    const business = await app.createBusiness()
    const endpoint = await createEndpoint(business.id, { url: receiver.base + path })
    const created = await app.create(business.id)
    const messageId = randomUUID()
    const inside = await app.runtime.runPromise(
      inTransaction(
        Effect.gen(function* () {
          yield* Effect.flatMap(HistoryStore, (history) => history.append(created.id, "sms.sent", { messageId, kind: "circuit_notice" }))
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql<{ outbox: number; jobs: number }>`
            SELECT (SELECT count(*)::int FROM webhook_outbox o JOIN callback_events e ON e.id = o.event_id WHERE e.data ->> 'messageId' = ${messageId}) AS outbox,
                   (SELECT count(*)::int FROM jobs j JOIN webhook_outbox o ON o.job_id = j.id JOIN callback_events e ON e.id = o.event_id
                     WHERE e.data ->> 'messageId' = ${messageId} AND j.kind = 'webhooks.deliver') AS jobs`
          return yield* Effect.fail({ rolledBack: rows[0] })
        })
      ).pipe(Effect.flip)
    )
    // inside the transaction the trigger had written the outbox row and its job
    expect(inside).toEqual({ rolledBack: { outbox: 1, jobs: 1 } })
    // a later committed event is delivered; the rolled-back one never is, and nothing of it is left
    const cancelled = await app.adminClient.POST("/admin/api/callbacks/{id}/cancel", { params: { path: { id: created.id } } })
    expect(cancelled.response.status).toBe(200)
    await settle(endpoint.id, [created.id])
    const got = receiver.received.filter((d) => d.path === path).map(envelopeOf)
    expect(got.map((b) => b.type)).toContain("callback.cancelled")
    expect(got.some((b) => b.type === "sms.sent")).toBe(false)
    expect(await query(url, "SELECT 1 FROM callback_events WHERE data ->> 'messageId' = $1", [messageId])).toEqual([])
    expect(await query(url, "SELECT 1 FROM jobs WHERE kind = 'webhooks.deliver' AND NOT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.job_id = jobs.id)")).toEqual([])
    // the events went to the endpoint in seq order, all of them
    expect(got.map((b) => b.data.seq)).toEqual((await eventsOf(created.id)).map((e) => e.seq))
  })

  it("an endpoint gets only the event types it lists; the outbox trigger writes the delivery job WebhookDeliver describes", async () => {
    const path = `/filtered/${randomUUID()}`
    receiver.behave(() => ({ status: 200, body: "ok" }))
    const business = await app.createBusiness()
    const endpoint = await createEndpoint(business.id, { url: receiver.base + path, eventTypes: ["callback.created", "callback.cancelled"] })
    const created = await app.create(business.id)
    await app.adminClient.POST("/admin/api/callbacks/{id}/cancel", { params: { path: { id: created.id } } })
    await settle(endpoint.id, [created.id])
    expect(receiver.received.filter((d) => d.path === path).map((d) => envelopeOf(d).type)).toEqual(["callback.created", "callback.cancelled"])
    const jobs = await query<{ queue: string; kind: string; max_attempts: number; concurrency_key: string; concurrency_limit: number; args: { callbackId: string } }>(
      url,
      "SELECT j.queue, j.kind, j.max_attempts, j.concurrency_key, j.concurrency_limit, j.args FROM jobs j JOIN webhook_outbox o ON o.job_id = j.id WHERE o.endpoint_id = $1",
      [endpoint.id]
    )
    expect(jobs).toHaveLength(2)
    for (const job of jobs) {
      expect(job).toMatchObject({ queue: WebhookDeliver.queue, kind: WebhookDeliver.kind, max_attempts: WebhookDeliver.maxAttempts, concurrency_limit: 1 })
      expect(job.concurrency_key).toBe(`webhook:${endpoint.id}:${created.id}`)
      expect(job.args.callbackId).toBe(created.id)
    }
  })

  it("rotation: during the overlap both signatures are sent, each verifying with its own secret", async () => {
    const path = `/rotation/${randomUUID()}`
    receiver.behave(() => ({ status: 204 }))
    const business = await app.createBusiness()
    const endpoint = await createEndpoint(business.id, { url: receiver.base + path })
    const rotated = await app.adminClient.POST("/admin/api/webhooks/{endpointId}/rotate-secret", { params: { path: { endpointId: endpoint.id } } })
    const next = rotated.data
    if (next === undefined) throw new Error(`not rotated: ${rotated.response.status}`)
    expect(next.secret).not.toBe(endpoint.secret)
    expect(next.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Date.parse(next.previousSecretUntil ?? "")).toBeGreaterThan(Date.now() + 50 * 60_000)
    const created = await app.create(business.id)
    await settle(endpoint.id, [created.id])
    const [first] = receiver.received.filter((d) => d.path === path)
    if (first === undefined) throw new Error("nothing delivered")
    const headers = headersOf(first)
    const signatures = (headers["webhook-signature"] ?? "").split(" ")
    expect(signatures).toHaveLength(2)
    const [current = "", previous = ""] = signatures
    expect(() => new Webhook(next.secret).verify(first.body, { ...headers, "webhook-signature": current })).not.toThrow()
    expect(() => new Webhook(endpoint.secret).verify(first.body, { ...headers, "webhook-signature": previous })).not.toThrow()
    expect(() => new Webhook(endpoint.secret).verify(first.body, { ...headers, "webhook-signature": current })).toThrow()
    expect(() => new Webhook(next.secret).verify(first.body, { ...headers, "webhook-signature": previous })).toThrow()
    // the secret is never shown again
    const shown = await app.adminClient.GET("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId: endpoint.id } } })
    expect(JSON.stringify(shown.data)).not.toContain(next.secret.slice(10))
    expect(shown.data?.secretHint).toBe(`${next.secret.slice(0, 10)}…`)
  })

  it("the delivery log pages newest first, and a replay sends the event again under the same webhook-id", async () => {
    const path = `/replay/${randomUUID()}`
    receiver.behave((d) => (d.path === path ? { status: 200, body: "y".repeat(5000) } : { status: 204 }))
    const business = await app.createBusiness()
    const endpoint = await createEndpoint(business.id, { url: receiver.base + path, eventTypes: ["callback.created", "callback.cancelled"] })
    const created = await app.create(business.id)
    await app.adminClient.POST("/admin/api/callbacks/{id}/cancel", { params: { path: { id: created.id } } })
    await settle(endpoint.id, [created.id])
    const deliveries = (cursor?: string) =>
      app.adminClient.GET("/admin/api/webhooks/{endpointId}/deliveries", { params: { path: { endpointId: endpoint.id }, query: { limit: "1", ...(cursor === undefined ? {} : { cursor }) } } })
    const page1 = (await deliveries()).data
    const page2 = (await deliveries(page1?.nextCursor)).data
    expect(page1?.items.map((a) => a.eventType)).toEqual(["callback.cancelled"])
    expect(page2?.items.map((a) => a.eventType)).toEqual(["callback.created"])
    const attempt = page2?.items[0]
    if (attempt === undefined) throw new Error("no attempt logged")
    expect(attempt).toMatchObject({ outcome: "delivered", statusCode: 200, deliveryState: "delivered" })
    expect(Buffer.byteLength(attempt.responseExcerpt ?? "")).toBe(1024)
    expect(attempt.latencyMs).toBeGreaterThanOrEqual(0)

    const before = receiver.received.filter((d) => d.path === path).length
    const replayed = await app.adminClient.POST("/admin/api/webhooks/{endpointId}/deliveries/{deliveryId}/replay", {
      params: { path: { endpointId: endpoint.id, deliveryId: attempt.id } }
    })
    expect(replayed.response.status).toBe(202)
    expect(replayed.data?.eventId).toBe(attempt.eventId)
    const again = await eventually(async () => receiver.received.filter((d) => d.path === path)[before], 10_000, "the replayed delivery")
    expect(again.headers["webhook-id"]).toBe(attempt.eventId)
    expect(envelopeOf(again).type).toBe("callback.created")
    await settle(endpoint.id, [created.id])
    expect((await deliveries()).data?.items[0]).toMatchObject({ eventId: attempt.eventId, outcome: "delivered" })

    // while a delivery is pending (here: the endpoint is disabled, so it waits), its replay is a 409
    await app.adminClient.PATCH("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId: endpoint.id } }, body: { enabled: false } })
    const first = await app.adminClient.POST("/admin/api/webhooks/{endpointId}/deliveries/{deliveryId}/replay", { params: { path: { endpointId: endpoint.id, deliveryId: attempt.id } } })
    expect(first.response.status).toBe(202)
    const second = await app.adminClient.POST("/admin/api/webhooks/{endpointId}/deliveries/{deliveryId}/replay", { params: { path: { endpointId: endpoint.id, deliveryId: attempt.id } } })
    expect(second.response.status).toBe(409)
    expect(await pendingOf(endpoint.id)).toBe(1)
  })
})
