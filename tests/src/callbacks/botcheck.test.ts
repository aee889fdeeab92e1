/**
 * A business's bot check against the whole app over real HTTP, with a local
 * siteverify double (tests/support/siteverify.ts) in place of Turnstile and
 * hCaptcha: operators set, show and remove it (the secret never comes back);
 * the widget learns provider and site key from GET /v1/business; a create with
 * a publishable key needs a token the provider accepts, solved on one of the
 * business's origins, before anything is stored or texted; a token is good
 * once, yet an idempotent retry is replayed without asking again; secret keys
 * and the admin token skip it; a provider that errors or never answers is a
 * 503 with Retry-After and lets nothing through.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, query } from "../../support/database.ts"
import { type Siteverify, startSiteverify } from "../../support/siteverify.ts"

const SHOP = "https://shop.example"

describe("the bot check", () => {
  let app: CallbackApp
  let url: string
  let siteverify: Siteverify

  beforeAll(async () => {
    siteverify = await startSiteverify()
    url = await cloneDatabase()
    app = await startCallbackApp({
      databaseUrl: url,
      env: { BOT_CHECK_TURNSTILE_URL: siteverify.url, BOT_CHECK_HCAPTCHA_URL: siteverify.url, BOT_CHECK_TIMEOUT: "500 millis", TRUST_PROXY: "1" }
    })
  }, 60_000)
  afterAll(async () => {
    await app?.dispose()
    await siteverify?.close()
  })

  const admin = (path: string, init: RequestInit = {}) => app.request(path, { ...init, admin: true })
  const keyFor = async (businessId: string, kind: "publishable" | "secret") => {
    const response = await admin(`/admin/api/businesses/${businessId}/keys`, { method: "POST", body: JSON.stringify({ kind }) })
    expect(response.status).toBe(201)
    return ((await response.json()) as { key: string }).key
  }
  /** A business with a bot check of `provider` whose secret the double accepts, and its publishable key. */
  const guarded = async (provider: "turnstile" | "hcaptcha" = "turnstile", fields: Record<string, unknown> = {}) => {
    const business = await app.createBusiness({ country: "US", ...fields })
    const set = await admin(`/admin/api/businesses/${business.id}/bot-check`, { method: "PUT", body: JSON.stringify({ provider, siteKey: `site-${provider}`, secret: siteverify.secret }) })
    expect(set.status).toBe(200)
    return { business, pk: await keyFor(business.id, "publishable") }
  }
  const create = (credential: { key?: string; bearer?: string }, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${app.baseUrl}/v1/callbacks${credential.key === undefined ? "" : `?key=${credential.key}`}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(credential.bearer === undefined ? {} : { authorization: `Bearer ${credential.bearer}` }), ...headers },
      body: JSON.stringify(body)
    })
  const problem = async (response: Response) => (await response.json()) as { type: string; reasons?: Array<string>; detail: string }
  const stored = async (phone: string) => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM callback_requests WHERE phone = $1", [phone]))[0]?.n)
  const asked = () => siteverify.requests.length

  it("is set, shown without its secret, replaced and removed by operators; the widget sees provider and site key", async () => {
    const business = await app.createBusiness()
    const path = `/admin/api/businesses/${business.id}/bot-check`
    expect((await admin(path)).status).toBe(404)
    const set = await admin(path, { method: "PUT", body: JSON.stringify({ provider: "turnstile", siteKey: "0x4AAAAAAA-site", secret: "0x4AAAAAAA-secret-value" }) })
    expect(set.status).toBe(200)
    const view = (await set.json()) as Record<string, unknown>
    expect(view).toMatchObject({ provider: "turnstile", siteKey: "0x4AAAAAAA-site" })
    expect(JSON.stringify(view)).not.toContain("secret-value")
    const shown = await (await admin(path)).text()
    expect(shown).toContain("0x4AAAAAAA-site")
    expect(shown).not.toContain("secret-value")

    const pk = await keyFor(business.id, "publishable")
    const publicView = async () => (await (await app.request(`/v1/business?key=${pk}`)).json()) as Record<string, unknown>
    expect((await publicView())["botCheck"]).toEqual({ provider: "turnstile", siteKey: "0x4AAAAAAA-site" })
    expect(JSON.stringify(await publicView())).not.toContain("secret-value")

    // replaced as a whole
    expect((await admin(path, { method: "PUT", body: JSON.stringify({ provider: "hcaptcha", siteKey: "10000000-ffff", secret: "0x0000-other" }) })).status).toBe(200)
    expect((await publicView())["botCheck"]).toEqual({ provider: "hcaptcha", siteKey: "10000000-ffff" })

    // refused shapes change nothing
    for (const body of [{ provider: "recaptcha", siteKey: "x", secret: "y" }, { provider: "turnstile", siteKey: "", secret: "y" }, { provider: "turnstile", siteKey: "x" }, { provider: "turnstile", siteKey: "x", secret: "y", extra: 1 }]) {
      const refused = await admin(path, { method: "PUT", body: JSON.stringify(body) })
      expect(refused.status, JSON.stringify(body)).toBe(400)
    }
    expect((await publicView())["botCheck"]).toEqual({ provider: "hcaptcha", siteKey: "10000000-ffff" })
    expect((await admin(`/admin/api/businesses/${crypto.randomUUID()}/bot-check`, { method: "PUT", body: JSON.stringify({ provider: "turnstile", siteKey: "x", secret: "y" }) })).status).toBe(404)

    expect((await admin(path, { method: "DELETE" })).status).toBe(204)
    expect((await admin(path, { method: "DELETE" })).status).toBe(404)
    expect((await admin(path)).status).toBe(404)
    expect((await publicView())["botCheck"]).toBeUndefined()
  })

  it("refuses a create from a web page without a token the provider accepts, storing and texting nothing", async () => {
    const { pk } = await guarded()
    const before = asked()

    const phone = freshNumber()
    const missing = await create({ key: pk }, { phone })
    expect(missing.status).toBe(403)
    expect(await problem(missing)).toMatchObject({ type: "/problems/bot-check-failed", reasons: ["missing-input-response"] })
    expect(asked()).toBe(before) // nothing to ask about

    const forged = await create({ key: pk }, { phone, botToken: "forged-token" }, { "x-forwarded-for": "203.0.113.7" })
    expect(forged.status).toBe(403)
    expect(await problem(forged)).toMatchObject({ type: "/problems/bot-check-failed", reasons: ["invalid-input-response"] })
    expect(siteverify.requests.at(-1)).toEqual({ secret: siteverify.secret, response: "forged-token", remoteip: "203.0.113.7", sitekey: undefined })

    expect(await stored(phone)).toBe(0)
    expect(await app.messagesTo(phone)).toEqual([])
  })

  it("lets a solved challenge through once: the code is texted, and the same token is refused for the next create", async () => {
    const { pk } = await guarded()
    const token = siteverify.issue()
    const phone = freshNumber()
    const first = await create({ key: pk }, { phone, botToken: token })
    expect(first.status).toBe(202)
    expect(await app.codeFor(phone)).toMatch(/^\d{6}$/)

    const again = freshNumber()
    const replayedToken = await create({ key: pk }, { phone: again, botToken: token })
    expect(replayedToken.status).toBe(403)
    expect((await problem(replayedToken)).reasons).toEqual(["timeout-or-duplicate"])
    expect(await stored(again)).toBe(0)
  })

  it("replays an idempotent retry without asking the provider again (its token is spent)", async () => {
    const { pk } = await guarded()
    const token = siteverify.issue()
    const phone = freshNumber()
    const headers = { "Idempotency-Key": `bot-${crypto.randomUUID()}` }
    const first = await create({ key: pk }, { phone, botToken: token }, headers)
    expect(first.status).toBe(202)
    const before = asked()
    const retry = await create({ key: pk }, { phone, botToken: token }, headers)
    expect(retry.status).toBe(202)
    expect(retry.headers.get("idempotent-replayed")).toBe("true")
    expect(((await retry.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id)
    expect(asked()).toBe(before)
    expect(await stored(phone)).toBe(1)
  })

  it("with allowed origins, accepts only challenges solved on one of their hosts", async () => {
    const { pk } = await guarded("turnstile", { allowedOrigins: [SHOP] })
    const elsewhere = freshNumber()
    const foreign = await create({ key: pk }, { phone: elsewhere, botToken: siteverify.issue("evil.example") }, { origin: SHOP })
    expect(foreign.status).toBe(403)
    expect((await problem(foreign)).reasons).toEqual(["hostname-mismatch"])
    expect(await stored(elsewhere)).toBe(0)

    const home = await create({ key: pk }, { phone: freshNumber(), botToken: siteverify.issue("shop.example") }, { origin: SHOP })
    expect(home.status).toBe(202)
    expect(home.headers.get("access-control-allow-origin")).toBe(SHOP)
  })

  it("asks hCaptcha with the site key too", async () => {
    const { pk } = await guarded("hcaptcha")
    const token = siteverify.issue()
    expect((await create({ key: pk }, { phone: freshNumber(), botToken: token })).status).toBe(202)
    expect(siteverify.requests.at(-1)).toMatchObject({ response: token, sitekey: "site-hcaptcha" })
  })

  it("is skipped for the business's servers: a secret key or the admin token needs no token", async () => {
    const { business } = await guarded()
    const sk = await keyFor(business.id, "secret")
    const before = asked()
    expect((await create({ bearer: sk }, { phone: freshNumber() })).status).toBe(202)
    expect((await app.request("/v1/callbacks", { method: "POST", admin: true, body: JSON.stringify({ businessId: business.id, phone: freshNumber() }) })).status).toBe(202)
    expect(asked()).toBe(before)
  })

  it("is a 503 with Retry-After while the provider errors or does not answer, letting nothing through; then works again", async () => {
    const { pk } = await guarded()
    try {
      for (const failure of [{ status: 500 }, "hang"] as const) {
        siteverify.failWith(failure)
        const phone = freshNumber()
        const started = Date.now()
        const response = await create({ key: pk }, { phone, botToken: siteverify.issue() })
        expect(response.status, JSON.stringify(failure)).toBe(503)
        expect(response.headers.get("retry-after")).toBe("5")
        expect((await problem(response)).type).toBe("/problems/unavailable")
        // BOT_CHECK_TIMEOUT is 500 ms: a provider that never answers does not hold the create
        expect(Date.now() - started).toBeLessThan(5_000)
        expect(await stored(phone)).toBe(0)
      }
    } finally {
      siteverify.failWith(undefined)
    }
    expect((await create({ key: pk }, { phone: freshNumber(), botToken: siteverify.issue() })).status).toBe(202)

    const metrics = await (await app.request("/metrics")).text()
    for (const outcome of ["passed", "failed", "missing", "unavailable"]) {
      expect(metrics).toMatch(new RegExp(`switchboard_bot_checks_total\\{provider="turnstile",outcome="${outcome}"\\} [1-9]`))
    }
  })
})
