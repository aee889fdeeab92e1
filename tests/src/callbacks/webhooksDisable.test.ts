/**
 * Auto-disable and re-enable of a webhook endpoint, end to end: a receiver
 * that answers 503 to everything makes a run of failed attempts; once the run
 * has both WEBHOOK_DISABLE_AFTER_FAILURES attempts and WEBHOOK_DISABLE_AFTER
 * of time, the endpoint is disabled with its reason and time, an operational
 * event, a metric and a warning. Its pending deliveries wait (nothing dead,
 * nothing sent), events of the time it is disabled are not queued for it, and
 * a PATCH `enabled: true` records `webhook.endpoint_enabled` and delivers the
 * waiting ones at once, in order.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { fastDeliveryHandlers, type OutboundReceiver, startOutboundReceiver } from "../../support/outboundReceiver.ts"

describe("auto-disable of a failing webhook endpoint", () => {
  let app: CallbackApp
  let url: string
  let receiver: OutboundReceiver
  beforeAll(async () => {
    url = await cloneDatabase()
    receiver = await startOutboundReceiver()
    app = await startCallbackApp({
      databaseUrl: url,
      handlers: fastDeliveryHandlers,
      env: { WEBHOOK_DISABLE_AFTER_FAILURES: "4", WEBHOOK_DISABLE_AFTER: "500ms", LOG_LEVEL: "error" }
    })
  })
  afterAll(async () => {
    await app.dispose()
    await receiver.close()
  })

  it("disables the endpoint after the run of failures, keeps its deliveries waiting, and resumes them when enabled again", { timeout: 60_000 }, async () => {
    const path = `/failing/${randomUUID()}`
    receiver.behave(() => ({ status: 503, body: "down for maintenance" }))
    const business = await app.createBusiness()
    const created = await app.adminClient.POST("/admin/api/businesses/{businessId}/webhooks", { params: { path: { businessId: business.id } }, body: { url: receiver.base + path } })
    const endpointId = created.data?.id ?? ""
    const request = await app.create(business.id)

    const disabled = await eventually(async () => {
      const { data } = await app.adminClient.GET("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId } } })
      return data?.enabled === false ? data : undefined
    }, 20_000, "the endpoint to be disabled")
    expect(disabled.disabledReason).toMatch(/^\d+ consecutive failed deliveries since .*; last: the endpoint answered 503$/)
    // both conditions held: at least 4 failures, over at least 500 ms
    const [run] = await query<{ failures: number; lasted: number }>(
      url,
      "SELECT consecutive_failures AS failures, extract(epoch FROM disabled_at - failing_since) * 1000 AS lasted FROM webhook_endpoints WHERE id = $1",
      [endpointId]
    )
    expect(run?.failures).toBeGreaterThanOrEqual(4)
    expect(Number(run?.lasted)).toBeGreaterThanOrEqual(500)
    const [event] = await query<{ business_id: string; data: { url: string; reason: string } }>(
      url,
      "SELECT business_id, data FROM operational_events WHERE type = 'webhook.endpoint_disabled' AND subject = $1",
      [endpointId]
    )
    expect(event).toEqual({ business_id: business.id, data: { url: receiver.base + path, reason: disabled.disabledReason } })
    expect(await (await app.request("/metrics")).text()).toMatch(/^switchboard_webhook_endpoints_disabled_total 1$/m)

    // the deliveries wait: pending, their jobs snoozed (not retried, not given up), and nothing more is sent
    const waiting = await eventually(async () => {
      const rows = await query<{ seq: number; outbox: string; job: string; later: boolean }>(
        url,
        `SELECT o.seq, o.state AS outbox, j.state::text AS job, j.run_at > now() + interval '30 minutes' AS later
           FROM webhook_outbox o JOIN jobs j ON j.id = o.job_id WHERE o.endpoint_id = $1 ORDER BY o.seq`,
        [endpointId]
      )
      return rows.length === 2 && rows.every((r) => r.job === "scheduled" && r.later) ? rows : undefined
    }, 20_000, "the deliveries to wait for the endpoint")
    expect(waiting.map((r) => [r.seq, r.outbox])).toEqual([[1, "pending"], [2, "pending"]])
    const sentWhileFailing = receiver.received.filter((d) => d.path === path).length
    expect(receiver.received.filter((d) => d.path === path).every((d) => JSON.parse(d.body).data.seq === 1)).toBe(true)

    // an event while it is disabled is not queued for it
    expect((await app.adminClient.POST("/admin/api/callbacks/{id}/cancel", { params: { path: { id: request.id } } })).response.status).toBe(200)
    expect(await query(url, "SELECT 1 FROM webhook_outbox WHERE endpoint_id = $1 AND event_type = 'callback.cancelled'", [endpointId])).toEqual([])
    expect(receiver.received.filter((d) => d.path === path).length).toBe(sentWhileFailing)

    // enabled again: the waiting deliveries go at once (not after their hour-long snooze), in order
    receiver.behave(() => ({ status: 204 }))
    const enabled = await app.adminClient.PATCH("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId } }, body: { enabled: true } })
    expect(enabled.data).toMatchObject({ enabled: true, consecutiveFailures: 0 })
    expect(enabled.data?.disabledReason).toBeUndefined()
    expect(await query(url, "SELECT data FROM operational_events WHERE type = 'webhook.endpoint_enabled' AND subject = $1", [endpointId])).toEqual([
      { data: { url: receiver.base + path, reason: "enabled by an operator" } }
    ])
    await eventually(
      async () => ((await query(url, "SELECT 1 FROM webhook_outbox WHERE endpoint_id = $1 AND state = 'pending'", [endpointId])).length === 0 ? true : undefined),
      10_000,
      "the waiting deliveries to be delivered"
    )
    const after = receiver.received.filter((d) => d.path === path).slice(sentWhileFailing)
    expect(after.map((d) => JSON.parse(d.body).type)).toEqual(["callback.created", "callback.code_sent"])
    const { data: log } = await app.adminClient.GET("/admin/api/webhooks/{endpointId}/deliveries", { params: { path: { endpointId } } })
    expect(log?.items.slice(0, 2).map((a) => [a.eventType, a.outcome, a.statusCode])).toEqual([
      ["callback.code_sent", "delivered", 204],
      ["callback.created", "delivered", 204]
    ])
    expect(log?.items.slice(2).every((a) => a.outcome === "failed" && a.statusCode === 503 && a.responseExcerpt === "down for maintenance")).toBe(true)
  })
})
