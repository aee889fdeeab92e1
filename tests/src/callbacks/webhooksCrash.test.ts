/**
 * Outbound webhooks survive a worker killed in the middle of deliveries: a
 * worker process (src/main.ts, ROLE=worker, only the `webhooks` queue) sends
 * to a receiver that never answers, is killed with SIGKILL while those
 * requests hang, and a new worker rescues the delivery jobs and delivers
 * everything. Nothing is lost: every committed event arrives (the ones that
 * were in flight twice, under the same webhook-id, which is what receivers
 * dedupe on), in seq order per request, every signature valid.
 */
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BusinessStore } from "../../../infra/callbacks/BusinessStore.ts"
import { HistoryStore } from "../../../infra/callbacks/HistoryStore.ts"
import { RequestStore } from "../../../infra/callbacks/RequestStore.ts"
import { WebhookEndpoints } from "../../../infra/callbacks/WebhookEndpoints.ts"
import { newSecret } from "../../../infra/callbacks/WebhookSigning.ts"
import { businessInput, callbackStoresRuntime, visitorPhone } from "../../support/callbackStores.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { type OutboundReceiver, startOutboundReceiver } from "../../support/outboundReceiver.ts"
import { spawnApp } from "../../support/processes.ts"

const REQUESTS = 3
const EXTRA_EVENTS = 4

describe("a worker killed mid-delivery", () => {
  let url: string
  let receiver: OutboundReceiver
  let stores: ReturnType<typeof callbackStoresRuntime>
  beforeAll(async () => {
    url = await cloneDatabase()
    receiver = await startOutboundReceiver(() => ({ hang: true }))
    stores = callbackStoresRuntime(url)
  })
  afterAll(async () => {
    await stores.dispose()
    await receiver.close()
  })

  it("loses nothing: a new worker delivers every event, the in-flight ones again under the same webhook-id", { timeout: 90_000 }, async () => {
    const env = { QUEUES: "webhooks:4", WEBHOOK_TIMEOUT: "30s", LOG_LEVEL: "info" }
    const first = spawnApp(url, env)
    await first.ready()

    const secret = newSecret()
    const { endpointId, ids } = await stores.runPromise(
      Effect.gen(function* () {
        const business = yield* Effect.flatMap(BusinessStore, (s) => s.create(randomUUID(), businessInput({ phone: visitorPhone() })))
        const endpoint = yield* Effect.flatMap(WebhookEndpoints, (s) =>
          s.create({ id: randomUUID(), businessId: business.id, url: `${receiver.base}/crash`, description: undefined, eventTypes: [], secret })
        )
        const ids: Array<string> = []
        for (let i = 0; i < REQUESTS; i++) {
          const request = yield* Effect.flatMap(RequestStore, (s) =>
            s.create({ id: randomUUID(), businessId: business.id, phone: visitorPhone(), name: undefined, note: undefined, priority: "normal", traceparent: undefined })
          )
          for (let k = 0; k < EXTRA_EVENTS; k++) yield* Effect.flatMap(HistoryStore, (h) => h.append(request.id, "sms.sent", { messageId: randomUUID(), kind: "circuit_notice" }))
          ids.push(request.id)
        }
        return { endpointId: endpoint.id, ids }
      })
    )

    // the first worker holds one delivery per request in flight (their key allows one at a time), all hanging
    await eventually(async () => (receiver.received.length >= REQUESTS ? true : undefined), 20_000, "the first deliveries to hang")
    const inFlight = receiver.received.map((d) => d.headers["webhook-id"] as string)
    first.signal("SIGKILL")
    await first.exited
    receiver.behave(() => ({ status: 204 }))

    const second = spawnApp(url, env)
    await second.ready()
    await eventually(
      async () => ((await query(url, "SELECT 1 FROM webhook_outbox WHERE endpoint_id = $1 AND state = 'pending'", [endpointId])).length === 0 ? true : undefined),
      45_000,
      "every delivery to be delivered by the second worker"
    )

    const events = await query<{ id: string; callback_id: string; seq: number }>(url, "SELECT id, callback_id, seq FROM callback_events WHERE callback_id = ANY($1::uuid[]) ORDER BY callback_id, seq", [ids])
    expect(events).toHaveLength(REQUESTS * (1 + EXTRA_EVENTS))
    const got = receiver.received
    const verifier = new Webhook(secret)
    for (const d of got) {
      const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)]))
      expect(() => verifier.verify(d.body, headers)).not.toThrow()
    }
    expect(new Set(got.map((d) => d.headers["webhook-id"]))).toEqual(new Set(events.map((e) => e.id)))
    // the deliveries in flight at the kill came again, under the same ids
    for (const id of inFlight) expect(got.filter((d) => d.headers["webhook-id"] === id).length).toBeGreaterThanOrEqual(2)
    for (const id of ids) {
      const seqs = got.map((d) => JSON.parse(d.body) as { data: { callbackId: string; seq: number } }).filter((b) => b.data.callbackId === id).map((b) => b.data.seq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    }
    // their jobs were rescued from the dead process, not retried by backoff
    const rescued = await query<{ n: number }>(
      url,
      "SELECT count(*)::int AS n FROM jobs WHERE kind = 'webhooks.deliver' AND errors @> '[{\"kind\": \"rescued\"}]'::jsonb"
    )
    expect(rescued[0]?.n).toBe(inFlight.length)
  })
})
