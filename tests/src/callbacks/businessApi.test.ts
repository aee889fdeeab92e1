/**
 * A business's own server API, for its secret key, against the whole app over
 * real HTTP: its callback requests with the visitors' details (`GET
 * /v1/callbacks`) and its webhook endpoints (`/v1/webhooks`). A key reaches
 * its own business only: another business's endpoint or request is a 404 and
 * stays as it was; a publishable key and the admin token are refused (403),
 * no credential or a revoked key is a 401.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { fastDeliveryHandlers, type OutboundReceiver, startOutboundReceiver } from "../../support/outboundReceiver.ts"

interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor?: string
}
interface Listed {
  readonly id: string
  readonly businessId: string
  readonly status: string
  readonly phone: string
  readonly name?: string
}
interface Endpoint {
  readonly id: string
  readonly businessId: string
  readonly url: string
  readonly enabled: boolean
  readonly secretHint: string
  readonly secret?: string
}
interface Attempt {
  readonly id: string
  readonly eventId: string
  readonly eventType: string
}

describe("a business's own API, for its secret key", () => {
  let app: CallbackApp
  let url: string
  let receiver: OutboundReceiver
  beforeAll(async () => {
    url = await cloneDatabase()
    receiver = await startOutboundReceiver()
    app = await startCallbackApp({ databaseUrl: url, handlers: fastDeliveryHandlers })
  }, 60_000)
  afterAll(async () => {
    await app?.dispose()
    await receiver?.close()
  })

  const issue = async (businessId: string, kind: "publishable" | "secret") => {
    const response = await app.request(`/admin/api/businesses/${businessId}/keys`, { method: "POST", admin: true, body: JSON.stringify({ kind }) })
    expect(response.status).toBe(201)
    return (await response.json()) as { id: string; key: string }
  }
  /** A request with `key` as the bearer token (checked against the OpenAPI document like every `app.request`). */
  const as = (key: string | undefined, path: string, init: RequestInit = {}) =>
    app.request(path, { ...init, headers: { "content-type": "application/json", ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...init.headers } })
  const body = async <A>(response: Response, status: number): Promise<A> => {
    const text = await response.text()
    expect(response.status, text).toBe(status)
    return JSON.parse(text) as A
  }
  const typeOf = async (response: Response) => ((await response.json()) as { type: string }).type

  /** Two businesses, each with a secret key; `a` has a publishable key too. */
  const twoBusinesses = async () => {
    const a = await app.createBusiness()
    const b = await app.createBusiness()
    return { a, b, skA: (await issue(a.id, "secret")).key, skB: (await issue(b.id, "secret")).key, pkA: (await issue(a.id, "publishable")).key }
  }

  it("lists its own business's callbacks with the visitors' details, filtered and paged, and nobody else's", async () => {
    const { a, b, skA, pkA } = await twoBusinesses()
    const mine = [await app.create(a.id), await app.create(a.id), await app.create(a.id)]
    const theirs = await app.create(b.id)
    await app.adminClient.POST("/admin/api/callbacks/{id}/cancel", { params: { path: { id: mine[0]?.id ?? "" } } })

    const all = await body<Page<Listed>>(await as(skA, "/v1/callbacks"), 200)
    expect(all.items.map((r) => r.id)).toEqual(mine.map((r) => r.id).reverse())
    expect(all.items.every((r) => r.businessId === a.id)).toBe(true)
    expect(all.items[0]).toMatchObject({ phone: mine[2]?.phone, name: "Ada" })
    // naming another business changes nothing: the key names it
    const named = await body<Page<Listed>>(await as(skA, `/v1/callbacks?businessId=${b.id}`), 200)
    expect(named.items.map((r) => r.id)).not.toContain(theirs.id)
    expect(named.items).toHaveLength(3)

    const cancelled = await body<Page<Listed>>(await as(skA, "/v1/callbacks?status=cancelled"), 200)
    expect(cancelled.items.map((r) => r.id)).toEqual([mine[0]?.id])
    const byPhone = await body<Page<Listed>>(await as(skA, `/v1/callbacks?phone=${encodeURIComponent(mine[1]?.phone ?? "")}`), 200)
    expect(byPhone.items.map((r) => r.id)).toEqual([mine[1]?.id])
    // another business's visitor's phone finds nothing here
    expect((await body<Page<Listed>>(await as(skA, `/v1/callbacks?phone=${encodeURIComponent(theirs.phone)}`), 200)).items).toEqual([])

    const first = await body<Page<Listed>>(await as(skA, "/v1/callbacks?limit=2"), 200)
    expect(first.items).toHaveLength(2)
    const rest = await body<Page<Listed>>(await as(skA, `/v1/callbacks?limit=2&cursor=${first.nextCursor ?? ""}`), 200)
    expect([...first.items, ...rest.items].map((r) => r.id)).toEqual(all.items.map((r) => r.id))

    expect(await typeOf(await as(skA, "/v1/callbacks?status=lost"))).toBe("/problems/validation")
    // a web page's key, the operators' token and no credential at all are refused
    expect(await typeOf(await app.request(`/v1/callbacks?key=${pkA}`))).toBe("/problems/forbidden")
    expect(await typeOf(await as(pkA, "/v1/callbacks"))).toBe("/problems/forbidden")
    expect(await typeOf(await app.request("/v1/callbacks", { admin: true }))).toBe("/problems/forbidden")
    expect(await typeOf(await as(undefined, "/v1/callbacks"))).toBe("/problems/unauthorized")
    // a secret key in the URL is refused (URLs are logged), on any route
    for (const path of [`/v1/callbacks?key=${skA}`, `/v1/business?key=${skA}`, `/v1/callbacks/${mine[1]?.id ?? ""}?key=${skA}`]) {
      const refused = await body<{ type: string; detail: string }>(await app.request(path), 401)
      expect(refused.detail).toMatch(/never in the URL/)
    }
  })

  it("a key does not reach another business's callback request: 404, and it stays as it was", async () => {
    const { a, b, skA, pkA } = await twoBusinesses()
    const theirs = await app.create(b.id, freshNumber())
    const own = await app.create(a.id)
    for (const key of [skA, pkA]) {
      expect(await typeOf(await as(key, `/v1/callbacks/${theirs.id}`))).toBe("/problems/not-found")
      expect(await typeOf(await as(key, `/v1/callbacks/${theirs.id}/events`))).toBe("/problems/not-found")
      expect((await as(key, `/v1/callbacks/${theirs.id}/verification`, { method: "POST", body: JSON.stringify({ code: "000000" }) })).status).toBe(404)
      expect((await as(key, `/v1/callbacks/${theirs.id}/verification/resend`, { method: "POST" })).status).toBe(404)
      if (key === pkA) expect((await app.request(`/v1/callbacks/${theirs.id}/verification/resend?key=${key}`, { method: "POST" })).status).toBe(404)
      // its own, yes
      expect((await as(key, `/v1/callbacks/${own.id}`)).status).toBe(200)
    }
    const [row] = await query<{ checks: number; sends: number }>(url, "SELECT checks, cardinality(sends) AS sends FROM verifications WHERE callback_id = $1", [theirs.id])
    expect(row).toEqual({ checks: 0, sends: 1 })
    // without a key, the id alone still finds it (the visitor's page)
    expect((await as(undefined, `/v1/callbacks/${theirs.id}`)).status).toBe(200)
  })

  it("manages its own webhook endpoints: create (secret once), list, read, change, rotate, deliveries, replay, delete", async () => {
    const { a, b, skA, pkA } = await twoBusinesses()
    const path = `/own/${randomUUID()}`
    const made = await body<Endpoint>(
      await as(skA, "/v1/webhooks", { method: "POST", body: JSON.stringify({ url: receiver.base + path, eventTypes: ["callback.created"] }) }),
      201
    )
    expect(made).toMatchObject({ businessId: a.id, enabled: true })
    expect(made.secret).toMatch(/^whsec_/)
    // another business's endpoint is not among its own
    await body<Endpoint>(await app.request(`/admin/api/businesses/${b.id}/webhooks`, { method: "POST", admin: true, body: JSON.stringify({ url: `${receiver.base}/b` }) }), 201)

    const listed = await body<Page<Endpoint>>(await as(skA, "/v1/webhooks"), 200)
    expect(listed.items.map((e) => e.id)).toEqual([made.id])
    expect(JSON.stringify(listed)).not.toContain(made.secret)
    expect((await body<Endpoint>(await as(skA, `/v1/webhooks/${made.id}`), 200)).url).toBe(receiver.base + path)
    expect((await body<Endpoint>(await as(skA, `/v1/webhooks/${made.id}`, { method: "PATCH", body: JSON.stringify({ description: "CRM" }) }), 200)).id).toBe(made.id)
    const rotated = await body<Endpoint>(await as(skA, `/v1/webhooks/${made.id}/rotate-secret`, { method: "POST" }), 200)
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(made.secret)

    // an event reaches it, the delivery log shows it, and a replay sends it again
    await app.create(a.id)
    const attempts = await eventually(async () => {
      const page = await body<Page<Attempt>>(await as(skA, `/v1/webhooks/${made.id}/deliveries`), 200)
      return page.items.length > 0 ? page.items : undefined
    }, 10_000, "a delivery to the business's endpoint")
    expect(attempts[0]?.eventType).toBe("callback.created")
    const before = receiver.received.filter((d) => d.path === path).length
    const replayed = await body<{ eventId: string }>(await as(skA, `/v1/webhooks/${made.id}/deliveries/${attempts[0]?.id ?? ""}/replay`, { method: "POST" }), 202)
    expect(replayed.eventId).toBe(attempts[0]?.eventId)
    await eventually(async () => receiver.received.filter((d) => d.path === path).length > before || undefined, 10_000, "the replayed delivery")

    // a publishable key manages nothing
    expect(await typeOf(await as(pkA, "/v1/webhooks", { method: "POST", body: JSON.stringify({ url: `${receiver.base}/pk` }) }))).toBe("/problems/forbidden")
    expect(await typeOf(await as(pkA, "/v1/webhooks"))).toBe("/problems/forbidden")

    expect((await as(skA, `/v1/webhooks/${made.id}`, { method: "DELETE" })).status).toBe(204)
    expect((await as(skA, `/v1/webhooks/${made.id}`)).status).toBe(404)
  })

  it("another business's endpoint is a 404 on every route, and stays as it was", async () => {
    const { b, skA } = await twoBusinesses()
    const theirs = await body<Endpoint>(await app.request(`/admin/api/businesses/${b.id}/webhooks`, { method: "POST", admin: true, body: JSON.stringify({ url: `${receiver.base}/theirs` }) }), 201)
    const stored = async () => (await query(url, "SELECT url, description, enabled, secret, previous_secret FROM webhook_endpoints WHERE id = $1", [theirs.id]))[0]
    const before = await stored()
    const refusals = [
      await as(skA, `/v1/webhooks/${theirs.id}`),
      await as(skA, `/v1/webhooks/${theirs.id}`, { method: "PATCH", body: JSON.stringify({ url: `${receiver.base}/stolen`, enabled: false }) }),
      await as(skA, `/v1/webhooks/${theirs.id}/rotate-secret`, { method: "POST" }),
      await as(skA, `/v1/webhooks/${theirs.id}/deliveries`),
      await as(skA, `/v1/webhooks/${theirs.id}/deliveries/1/replay`, { method: "POST" }),
      await as(skA, `/v1/webhooks/${theirs.id}`, { method: "DELETE" })
    ]
    for (const refused of refusals) {
      const problem = await body<{ type: string; detail: string }>(refused, 404)
      expect(problem.detail).toBe(`no webhook endpoint ${theirs.id}`)
    }
    expect(await stored()).toEqual(before)
    expect((await body<Page<Endpoint>>(await as(skA, "/v1/webhooks"), 200)).items).toEqual([])
  })

  it("a revoked secret key is refused at once", async () => {
    const business = await app.createBusiness()
    const sk = await issue(business.id, "secret")
    expect((await as(sk.key, "/v1/webhooks")).status).toBe(200)
    expect((await app.request(`/admin/api/keys/${sk.id}/revoke`, { method: "POST", admin: true, body: "{}" })).status).toBe(200)
    expect(await typeOf(await as(sk.key, "/v1/webhooks"))).toBe("/problems/unauthorized")
    expect(await typeOf(await as(sk.key, "/v1/callbacks"))).toBe("/problems/unauthorized")
  })
})
