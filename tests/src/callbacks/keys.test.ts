/**
 * The front door against the whole app over real HTTP: business keys (issued
 * once, listed by prefix, revoked at once or after an overlap, and refused by
 * every app instance the moment they are revoked), who may name a business in
 * a create, CORS per business (preflights, allowed and refused origins, the
 * per-request routes), and JSON-only bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

const SHOP = "https://shop.example"
const EVIL = "https://evil.example"

interface Issued {
  readonly id: string
  readonly key: string
  readonly prefix: string
  readonly kind: string
}

describe("business keys, CORS and JSON-only bodies", () => {
  let app: CallbackApp
  let other: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url })
    // a second instance on the same database: another process as far as keys are concerned
    other = await startCallbackApp({ databaseUrl: url })
  }, 60_000)
  afterAll(async () => {
    await other.dispose()
    await app.dispose()
  })

  const issue = async (businessId: string, kind: "publishable" | "secret"): Promise<Issued> => {
    const response = await app.request(`/admin/api/businesses/${businessId}/keys`, { method: "POST", admin: true, body: JSON.stringify({ kind, label: "test" }) })
    expect(response.status).toBe(201)
    return (await response.json()) as Issued
  }
  /** A raw fetch (the conformance check reads bodies; these tests look at CORS headers and refusals). */
  const raw = (target: CallbackApp, path: string, init: RequestInit = {}) => fetch(target.baseUrl + path, init)
  const createWith = (target: CallbackApp, credential: { key?: string; bearer?: string }, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    raw(target, `/v1/callbacks${credential.key === undefined ? "" : `?key=${credential.key}`}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(credential.bearer === undefined ? {} : { authorization: `Bearer ${credential.bearer}` }), ...headers },
      body: JSON.stringify(body)
    })
  const typeOf = async (response: Response) => ((await response.json()) as { type: string }).type
  const requestsFor = async (phone: string) => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM callback_requests WHERE phone = $1", [phone]))[0]?.n)

  it("issues keys once and lists them by prefix; a publishable key creates for its own business only", async () => {
    const business = await app.createBusiness({ country: "US" })
    const another = await app.createBusiness()
    const pk = await issue(business.id, "publishable")
    const sk = await issue(business.id, "secret")
    expect(pk.key).toMatch(/^pk_[A-Za-z0-9_-]{43}$/)
    expect(sk.key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/)
    expect(pk.key.startsWith(pk.prefix)).toBe(true)
    const listed = (await (await app.request(`/admin/api/businesses/${business.id}/keys`, { admin: true })).json()) as { items: Array<Record<string, unknown>> }
    expect(listed.items.map((k) => k["id"])).toEqual([pk.id, sk.id])
    expect(JSON.stringify(listed)).not.toContain(pk.key)
    expect((await query(url, "SELECT 1 FROM business_keys WHERE hash = $1 OR prefix = $1", [pk.key])).length).toBe(0)

    // the key names the business: no businessId needed, and a local number is read in its country
    const created = await createWith(app, { key: pk.key }, { phone: "(415) 555-0142" })
    expect(created.status).toBe(202)
    const { id } = (await created.json()) as { id: string }
    expect((await query<{ business_id: string; phone: string }>(url, "SELECT business_id, phone FROM callback_requests WHERE id = $1", [id]))[0]).toEqual({
      business_id: business.id,
      phone: "+14155550142"
    })
    // a publishable key may not name a business, its own or another
    expect(await typeOf(await createWith(app, { key: pk.key }, { businessId: another.id, phone: freshNumber() }))).toBe("/problems/forbidden")
    expect((await createWith(app, { bearer: pk.key }, { businessId: business.id, phone: freshNumber() })).status).toBe(403)
    // a secret key may repeat its own, not another's
    expect((await createWith(app, { bearer: sk.key }, { businessId: business.id, phone: freshNumber() })).status).toBe(202)
    expect((await createWith(app, { bearer: sk.key }, { businessId: another.id, phone: freshNumber() })).status).toBe(403)
    // nothing, a made-up key, or the admin token without a business
    expect(await typeOf(await createWith(app, {}, { businessId: business.id, phone: freshNumber() }))).toBe("/problems/unauthorized")
    expect((await createWith(app, { key: `pk_${"A".repeat(43)}` }, { phone: freshNumber() })).status).toBe(401)
    expect((await createWith(app, { key: "not-a-key" }, { phone: freshNumber() })).status).toBe(401)
    const noBusiness = await createWith(app, { bearer: ADMIN_TOKEN }, { phone: freshNumber() })
    expect(noBusiness.status).toBe(400)
    // what a page may know of its business
    const shown = await raw(app, `/v1/business?key=${pk.key}`)
    expect(await shown.json()).toEqual({ name: business.name, country: "US", timezone: business.timezone })
    expect((await raw(app, "/v1/business")).status).toBe(401)
  })

  it("a publishable key cannot use the admin API (webhooks, other businesses' callbacks)", async () => {
    const business = await app.createBusiness()
    const pk = await issue(business.id, "publishable")
    for (const [method, path] of [
      ["GET", "/admin/api/callbacks"],
      ["GET", `/admin/api/businesses/${business.id}/webhooks`],
      ["POST", `/admin/api/businesses/${business.id}/webhooks`]
    ] as const) {
      const response = await raw(app, path, { method, headers: { authorization: `Bearer ${pk.key}`, "content-type": "application/json" }, ...(method === "POST" ? { body: '{"url":"https://x.example/"}' } : {}) })
      expect(response.status, `${method} ${path}`).toBe(403)
    }
  })

  it("a revoked key is refused at once by every instance; one revoked with an overlap works until it ends", async () => {
    const business = await app.createBusiness()
    const now = await issue(business.id, "publishable")
    const later = await issue(business.id, "publishable")
    expect((await createWith(other, { key: now.key }, { phone: freshNumber() })).status).toBe(202)
    const revoked = await app.request(`/admin/api/keys/${now.id}/revoke`, { method: "POST", admin: true, body: "{}" })
    expect(revoked.status).toBe(200)
    expect(((await revoked.json()) as { revokedAt?: string }).revokedAt).toBeDefined()
    // the other instance never cached it
    expect((await createWith(other, { key: now.key }, { phone: freshNumber() })).status).toBe(401)
    expect((await createWith(app, { key: now.key }, { phone: freshNumber() })).status).toBe(401)

    const overlap = await app.request(`/admin/api/keys/${later.id}/revoke`, { method: "POST", admin: true, body: JSON.stringify({ afterSeconds: 2 }) })
    expect(overlap.status).toBe(200)
    expect((await createWith(other, { key: later.key }, { phone: freshNumber() })).status).toBe(202)
    await eventually(async () => ((await createWith(other, { key: later.key }, { phone: freshNumber() })).status === 401 ? true : undefined), 10_000, "the overlap to end")
    // revoking again may bring the end closer, never push it back
    const again = await app.request(`/admin/api/keys/${now.id}/revoke`, { method: "POST", admin: true, body: JSON.stringify({ afterSeconds: 3600 }) })
    expect(new Date(((await again.json()) as { revokedAt: string }).revokedAt).getTime()).toBeLessThan(Date.now())
    expect((await app.request(`/admin/api/keys/00000000-0000-4000-8000-000000000000/revoke`, { method: "POST", admin: true, body: "{}" })).status).toBe(404)
  })

  it("CORS: the business's origins get their preflight and their answers; any other origin is refused before anything happens", async () => {
    const business = await app.createBusiness({ allowedOrigins: [SHOP] })
    const pk = await issue(business.id, "publishable")
    const preflight = (origin: string, path: string) =>
      raw(app, path, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } })

    const allowed = await preflight(SHOP, `/v1/callbacks?key=${pk.key}`)
    expect(allowed.status).toBe(204)
    expect(allowed.headers.get("access-control-allow-origin")).toBe(SHOP)
    expect(allowed.headers.get("access-control-allow-methods")).toContain("POST")
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type")
    expect(allowed.headers.get("vary")).toContain("Origin")
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull()

    const refused = await preflight(EVIL, `/v1/callbacks?key=${pk.key}`)
    expect(refused.status).toBe(403)
    expect(refused.headers.get("access-control-allow-origin")).toBeNull()
    expect(refused.headers.get("vary")).toContain("Origin")

    // the create itself: from the shop, answered with its origin; from elsewhere, refused and nothing made
    const phone = freshNumber()
    const fromEvil = await createWith(app, { key: pk.key }, { phone }, { origin: EVIL })
    expect(fromEvil.status).toBe(403)
    expect(fromEvil.headers.get("access-control-allow-origin")).toBeNull()
    expect(await requestsFor(phone)).toBe(0)
    const fromShop = await createWith(app, { key: pk.key }, { phone }, { origin: SHOP })
    expect(fromShop.status).toBe(202)
    expect(fromShop.headers.get("access-control-allow-origin")).toBe(SHOP)
    expect(fromShop.headers.get("access-control-expose-headers")).toContain("Retry-After")
    const { id, streamToken } = (await fromShop.json()) as { id: string; streamToken: string }
    // a refusal from the shop is readable by the shop's page
    const invalid = await createWith(app, { key: pk.key }, { phone: "junk" }, { origin: SHOP })
    expect([invalid.status, invalid.headers.get("access-control-allow-origin")]).toEqual([400, SHOP])

    // the request's own routes judge by the request's business
    expect((await preflight(SHOP, `/v1/callbacks/${id}/verification`)).status).toBe(204)
    expect((await preflight(EVIL, `/v1/callbacks/${id}/verification`)).status).toBe(403)
    const wrongCode = await raw(app, `/v1/callbacks/${id}/verification`, { method: "POST", headers: { origin: EVIL, "content-type": "application/json" }, body: '{"code":"000000"}' })
    expect(wrongCode.status).toBe(403)
    expect((await query<{ checks: number }>(url, "SELECT checks FROM verifications WHERE callback_id = $1", [id]))[0]?.checks).toBe(0)
    const view = await raw(app, `/v1/callbacks/${id}`, { headers: { origin: SHOP } })
    expect([view.status, view.headers.get("access-control-allow-origin")]).toEqual([200, SHOP])
    const stream = await raw(app, `/v1/callbacks/${id}/stream?token=${streamToken}`, { headers: { origin: SHOP } })
    expect([stream.status, stream.headers.get("access-control-allow-origin")]).toEqual([200, SHOP])
    await stream.body?.cancel()
    // a business without origins takes no page's calls; requests without Origin (servers) are not judged
    const closed = await app.createBusiness()
    const closedKey = await issue(closed.id, "publishable")
    expect((await createWith(app, { key: closedKey.key }, { phone: freshNumber() }, { origin: SHOP })).status).toBe(403)
    expect((await createWith(app, { key: closedKey.key }, { phone: freshNumber() })).status).toBe(202)
    // the API's own origin (the demo page) is not cross-origin
    expect((await createWith(app, { key: closedKey.key }, { phone: freshNumber() }, { origin: app.baseUrl })).status).toBe(202)
  })

  it("allowed origins are exact origins: a path, a wildcard or a missing scheme is refused with its field", async () => {
    for (const origin of ["https://shop.example/", "*", "shop.example", "https://*.shop.example", "https://shop.example/path", "HTTPS://SHOP.EXAMPLE"]) {
      const response = await app.request("/admin/api/businesses", {
        method: "POST",
        admin: true,
        body: JSON.stringify({ name: "Acme", phone: freshNumber(), timezone: "UTC", allowedOrigins: [origin] })
      })
      expect(response.status, origin).toBe(400)
      expect(((await response.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path), origin).toEqual(["/allowedOrigins/0"])
    }
  })

  it("public bodies are JSON only: text/plain and form posts are 415 and create nothing", async () => {
    const business = await app.createBusiness()
    const pk = await issue(business.id, "publishable")
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const phone = freshNumber()
      const response = await raw(app, `/v1/callbacks?key=${pk.key}`, { method: "POST", headers: { "content-type": type }, body: JSON.stringify({ phone }) })
      expect(response.status, type).toBe(415)
      expect(await typeOf(response)).toBe("/problems/unsupported-media-type")
      expect(await requestsFor(phone)).toBe(0)
    }
    expect((await raw(app, `/v1/callbacks?key=${pk.key}`, { method: "POST", headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify({ phone: freshNumber() }) })).status).toBe(202)
  })
})
