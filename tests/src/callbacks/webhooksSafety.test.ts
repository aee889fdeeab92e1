/**
 * Outbound webhooks under production's destination rules, and the admin
 * API's validation:
 *
 * - with NODE_ENV=production the settings require https and refuse private
 *   destinations (and WEBHOOK_ALLOW_PRIVATE_DESTINATIONS can say otherwise);
 * - the app here runs with private destinations refused (what production
 *   does; a whole production process needs real Twilio): an endpoint on a
 *   private IP literal is refused at creation (400 at /url), and one whose
 *   name resolves to loopback (`localhost`) is refused at delivery, after
 *   DNS: logged as `refused`, dead at once (not retried), nothing sent;
 * - bad input is a validation problem naming each field; unknown ids are 404.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { webhookConfig } from "../../../infra/callbacks/WebhookConfig.ts"
import { urlProblem } from "../../../src/callbacks/WebhookAdmin.ts"
import { type CallbackApp, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { type OutboundReceiver, startOutboundReceiver } from "../../support/outboundReceiver.ts"

const settingsWith = (env: Record<string, string>) => Effect.runPromise(Effect.withConfigProvider(webhookConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("webhook destination rules", () => {
  it("production requires https and refuses private destinations; development allows both; the variable overrides", async () => {
    const production = await settingsWith({ NODE_ENV: "production" })
    expect(production).toMatchObject({ requireHttps: true, allowPrivate: false })
    expect(urlProblem("http://hooks.example.com/x", production)).toMatch(/https/)
    expect(urlProblem("https://10.1.2.3/x", production)).toMatch(/10\.1\.2\.3 is a private address/)
    expect(urlProblem("https://hooks.example.com/x", production)).toBeUndefined()
    const development = await settingsWith({})
    expect(development).toMatchObject({ requireHttps: false, allowPrivate: true })
    expect(urlProblem("http://127.0.0.1:9000/x", development)).toBeUndefined()
    expect(await settingsWith({ NODE_ENV: "production", WEBHOOK_ALLOW_PRIVATE_DESTINATIONS: "true" })).toMatchObject({ allowPrivate: true, requireHttps: true })
    await expect(settingsWith({ WEBHOOK_TIMEOUT: "2m" })).rejects.toThrow(/WEBHOOK_TIMEOUT must be from/)
  })
})

describe("outbound webhooks with private destinations refused", () => {
  let app: CallbackApp
  let url: string
  let receiver: OutboundReceiver
  beforeAll(async () => {
    url = await cloneDatabase()
    receiver = await startOutboundReceiver()
    app = await startCallbackApp({ databaseUrl: url, env: { WEBHOOK_ALLOW_PRIVATE_DESTINATIONS: "false" } })
  })
  afterAll(async () => {
    await app.dispose()
    await receiver.close()
  })

  const post = (businessId: string, body: unknown) =>
    app.request(`/admin/api/businesses/${businessId}/webhooks`, { method: "POST", admin: true, body: JSON.stringify(body) })

  it("refuses an endpoint on a private IP literal at creation, in any spelling", async () => {
    const business = await app.createBusiness()
    for (const target of [receiver.base, "http://[::1]:8080/x", "http://[::ffff:169.254.169.254]/latest", "http://2130706433/", "https://100.64.1.1/", "http://[fd00::1]/"]) {
      const response = await post(business.id, { url: target })
      expect(response.status, target).toBe(400)
      const problem = (await response.json()) as { type: string; errors: ReadonlyArray<{ in: string; path: string; message: string }> }
      expect(problem.type).toBe("/problems/validation")
      expect(problem.errors).toEqual([{ in: "body", path: "/url", message: expect.stringMatching(/webhooks go to public addresses only/) as unknown as string }])
    }
    expect(await query(url, "SELECT 1 FROM webhook_endpoints WHERE business_id = $1", [business.id])).toEqual([])
  })

  it("refuses a name that resolves to loopback at delivery: logged as refused, dead at once, nothing sent", async () => {
    const business = await app.createBusiness()
    const created = await post(business.id, { url: `http://localhost:${receiver.port}/hook` })
    expect(created.status).toBe(201)
    const endpoint = (await created.json()) as { id: string }
    await app.create(business.id)
    const log = await eventually(async () => {
      const { data } = await app.adminClient.GET("/admin/api/webhooks/{endpointId}/deliveries", { params: { path: { endpointId: endpoint.id } } })
      return data !== undefined && data.items.length >= 2 ? data.items : undefined // callback.created and callback.code_sent
    }, 15_000, "the refused attempts")
    for (const attempt of log) {
      expect(attempt).toMatchObject({ outcome: "refused", deliveryState: "dead" })
      expect(attempt.statusCode).toBeUndefined()
      expect(attempt.error).toMatch(/localhost resolves to (127\.0\.0\.1|::1), a loopback address/)
    }
    expect(receiver.received).toEqual([])
    // not retried: one attempt per delivery, each job discarded after it
    const jobs = await eventually(async () => {
      const rows = await query<{ state: string; attempt: number }>(url, "SELECT j.state::text AS state, j.attempt FROM jobs j JOIN webhook_outbox o ON o.job_id = j.id WHERE o.endpoint_id = $1", [endpoint.id])
      return rows.length >= 2 && rows.every((r) => r.state === "discarded") ? rows : undefined
    }, 10_000, "the delivery jobs to be discarded")
    expect(jobs.every((j) => j.attempt === 1)).toBe(true)
    const metrics = await (await app.request("/metrics")).text()
    expect(metrics).toMatch(/switchboard_webhook_deliveries_total\{outcome="refused"\} [1-9]/)
    expect(metrics).toMatch(/switchboard_webhook_deliveries_total\{outcome="dead"\} [1-9]/)
  })

  it("answers bad input with a validation problem per field, and unknown ids with 404", async () => {
    const business = await app.createBusiness()
    const bad = await post(business.id, { url: "ftp://example.com/x", eventTypes: ["callback.created", "callback.nope"], description: "", extra: 1 })
    expect(bad.status).toBe(400)
    const problem = (await bad.json()) as { errors: ReadonlyArray<{ path: string }> }
    expect(problem.errors.map((e) => e.path).sort()).toEqual(["/description", "/eventTypes/1", "/extra", "/url"])
    for (const relative of ["not a url", "/relative/path", "https://"]) expect((await post(business.id, { url: relative })).status, relative).toBe(400)
    expect((await post(randomUUID(), { url: "https://hooks.example.com/x" })).status).toBe(404)
    expect((await post("not-an-id", { url: "https://hooks.example.com/x" })).status).toBe(404)
    const missing = randomUUID()
    expect((await app.request(`/admin/api/webhooks/${missing}`, { admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${missing}`, { method: "PATCH", admin: true, body: JSON.stringify({ enabled: true }) })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${missing}`, { method: "DELETE", admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${missing}/rotate-secret`, { method: "POST", admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${missing}/deliveries`, { admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${missing}/deliveries/1/replay`, { method: "POST", admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/businesses/${randomUUID()}/webhooks`, { admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${missing}`, { admin: false })).status).toBe(401)

    // a created endpoint: listed without its secret, changed, deleted
    const made = (await (await post(business.id, { url: "https://hooks.example.com/a", eventTypes: ["callback.completed"], description: "ops" })).json()) as { id: string; secret: string }
    expect(made.secret).toMatch(/^whsec_/)
    const listed = await app.adminClient.GET("/admin/api/businesses/{businessId}/webhooks", { params: { path: { businessId: business.id } } })
    expect(listed.data?.items.map((e) => e.id)).toEqual([made.id])
    expect(JSON.stringify(listed.data)).not.toContain(made.secret)
    const patched = await app.adminClient.PATCH("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId: made.id } }, body: { url: "https://hooks.example.com/b", eventTypes: [], description: null } })
    expect(patched.data).toMatchObject({ url: "https://hooks.example.com/b", eventTypes: [], enabled: true })
    expect(patched.data?.description).toBeUndefined()
    const refused = await app.request(`/admin/api/webhooks/${made.id}`, { method: "PATCH", admin: true, body: JSON.stringify({ url: "http://192.168.1.1/" }) })
    expect(refused.status).toBe(400)
    expect((await app.request(`/admin/api/webhooks/${made.id}/deliveries/999/replay`, { method: "POST", admin: true })).status).toBe(404)
    expect((await app.request(`/admin/api/webhooks/${made.id}`, { method: "DELETE", admin: true })).status).toBe(204)
    expect((await app.request(`/admin/api/webhooks/${made.id}`, { admin: true })).status).toBe(404)
  })
})
