/**
 * The console's business pages over real HTTP, as an operator's browser posts
 * them: a business created and edited through its settings form (hours,
 * escalation chain, limits, VIP phones, origins) is stored as the API stores
 * it; a form that is not valid comes back with what was typed and each error
 * at its field, and changes nothing; a key or a webhook secret is shown once
 * and works; revoking, rotating, disabling, replaying and deleting do what the
 * API's operations do, and each is an audit row.
 *
 * The form codec itself is property-tested: a stored business written into
 * the form and read back is the same business.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Business } from "../../../domain/callbacks/Business.ts"
import { BusinessBody } from "../../../src/http/contract/AdminCallbacks.ts"
import { decodeAll } from "../../../src/http/Validate.ts"
import { BusinessForm, businessFields, fieldOf } from "../../../src/console/Forms.ts"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { startCallbackApp } from "../../support/callbacks.ts"
import { type ConsoleClient, consoleClient } from "../../support/console.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { fastDeliveryHandlers, type OutboundReceiver, startOutboundReceiver } from "../../support/outboundReceiver.ts"

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const
const hh = (hour: number) => `${String(hour).padStart(2, "0")}:00`

/** Opening hours that are valid: per day, ordered, non-overlapping intervals from distinct sorted hours; at least one day open. */
const hoursArb = fc
  .array(fc.uniqueArray(fc.integer({ min: 0, max: 24 }), { minLength: 0, maxLength: 4 }), { minLength: 7, maxLength: 7 })
  .map((days) =>
    Object.fromEntries(
      days
        .map((hours, i) => {
          const sorted = [...hours].sort((a, b) => a - b)
          const intervals: Array<[string, string]> = []
          for (let k = 0; k + 1 < sorted.length; k += 2) intervals.push([hh(sorted[k] ?? 0), hh(sorted[k + 1] ?? 0)])
          return [DAYS[i] ?? "sun", intervals] as const
        })
        .filter(([, intervals]) => intervals.length > 0)
    )
  )
  .filter((hours) => Object.keys(hours).length > 0)

const phoneArb = fc.integer({ min: 1000, max: 9999 }).map((n) => `+1415555${n}`)

const settingsArb = fc.record({
  name: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() === s && s !== "" && !/[\u0000-\u001f\u007f]/.test(s)),
  phone: phoneArb,
  timezone: fc.constantFrom("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"),
  country: fc.option(fc.constantFrom("US", "DE", "GB"), { nil: undefined }),
  hours: fc.option(hoursArb, { nil: undefined }),
  escalation: fc.array(fc.record({ phone: phoneArb, ringSeconds: fc.integer({ min: 5, max: 120 }) }), { maxLength: 4 }),
  afterHours: fc.array(fc.record({ phone: phoneArb, ringSeconds: fc.integer({ min: 5, max: 120 }) }), { maxLength: 2 }),
  ringSeconds: fc.integer({ min: 5, max: 120 }),
  maxConcurrentCalls: fc.integer({ min: 1, max: 1000 }),
  vipPhones: fc.uniqueArray(phoneArb, { maxLength: 4 }),
  smsFallback: fc.boolean(),
  allowedOrigins: fc.uniqueArray(fc.constantFrom("https://shop.example", "http://localhost:3000", "https://a.example:8443"), { maxLength: 3 })
})

describe("the console's business form", () => {
  it("property: a business written into the form and read back through the API's rules is the same business", () => {
    fc.assert(
      fc.property(settingsArb, (settings) => {
        const stored = { ...settings, id: "00000000-0000-4000-8000-000000000000", createdAt: new Date(0), updatedAt: new Date(0) } as Business
        const fields = businessFields(stored)
        const patch = Schema.decodeUnknownSync(BusinessForm)(fields)
        const decoded = decodeAll(BusinessBody, patch, "body", "error")
        if (Either.isLeft(decoded)) expect.fail(JSON.stringify(decoded.left))
        const { id: _i, createdAt: _c, updatedAt: _u, ...expected } = stored
        const { country, hours, ...rest } = decoded.right
        expect({ ...rest, ...(country === undefined ? {} : { country }), ...(hours === undefined ? {} : { hours }) }).toEqual(
          Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined))
        )
      }),
      { numRuns: 200 }
    )
  })

  it("puts each API error at the form field that holds it", () => {
    expect(fieldOf({ in: "body", path: "/hours/mon/1/0", message: "m" })).toEqual({ field: "hours.mon", message: "interval 2: m" })
    expect(fieldOf({ in: "body", path: "/hours", message: "m" })).toEqual({ field: "hours", message: "m" })
    expect(fieldOf({ in: "body", path: "/escalation/2/phone", message: "m" })).toEqual({ field: "escalation", message: "line 3: m" })
    expect(fieldOf({ in: "body", path: "/vipPhones/0", message: "m" })).toEqual({ field: "vipPhones", message: "line 1: m" })
    expect(fieldOf({ in: "body", path: "/timezone", message: "m" })).toEqual({ field: "timezone", message: "m" })
  })
})

describe("the console's business pages", () => {
  let app: Awaited<ReturnType<typeof startCallbackApp>>
  let url: string
  let receiver: OutboundReceiver
  let browser: ConsoleClient

  const audit = (action: string) => query<{ outcome: string; target: string | null; via: string }>(url, "SELECT outcome, target, via FROM operator_audit WHERE action = $1 ORDER BY operator_audit.id", [action])
  const businessCount = async () => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM businesses"))[0]?.n)
  const apiBusiness = async (id: string) => (await app.adminClient.GET("/admin/api/businesses/{id}", { params: { path: { id } } })).data
  const html = async (response: Response) => {
    const text = await response.text()
    browser.csrfOf(text)
    return text
  }
  /** The value of the form control named `name` in `page` (an input's value, a textarea's text). */
  const valueOf = (page: string, name: string): string | undefined => {
    const escaped = name.replace(/\./g, "\\.")
    const input = new RegExp(`<input[^>]*name="${escaped}"[^>]*value="([^"]*)"`).exec(page) ?? new RegExp(`<input[^>]*value="([^"]*)"[^>]*name="${escaped}"`).exec(page)
    if (input !== null) return input[1]
    return new RegExp(`<textarea[^>]*name="${escaped}"[^>]*>([^<]*)</textarea>`).exec(page)?.[1]
  }
  const location = (response: Response) => response.headers.get("location") ?? ""

  const form = {
    name: "Harbour Dental",
    phone: "+14155550123",
    timezone: "America/New_York",
    country: "US",
    "hours.mon": "09:00-12:00, 13:00-17:30",
    "hours.fri": "09:00-15:00",
    escalation: "+14155550124\n(415) 555-0125, 30",
    ringSeconds: "40",
    maxConcurrentCalls: "3",
    vipPhones: "+14155550199",
    allowedOrigins: "https://dental.example",
    smsFallback: "on"
  }

  beforeAll(async () => {
    url = await cloneDatabase()
    receiver = await startOutboundReceiver()
    app = await startCallbackApp({ databaseUrl: url, handlers: fastDeliveryHandlers, env: { WEBHOOK_TIMEOUT: "2s", WEBHOOK_SECRET_OVERLAP: "1h" } })
    browser = consoleClient(app.baseUrl)
    expect((await browser.signIn("", ADMIN_TOKEN)).status).toBe(303)
  }, 60_000)
  afterAll(async () => {
    await app.dispose()
    await receiver.close()
  })

  it("creates a business from the settings form, stored as the API stores it", async () => {
    const page = await html(await browser.get("/admin/businesses/new"))
    expect(page).toContain('name="hours.mon"')
    expect(valueOf(page, "ringSeconds")).toBe("25") // the API's default
    const created = await browser.post("/admin/businesses", form)
    expect(created.status).toBe(303)
    const id = /\/admin\/businesses\/([0-9a-f-]{36})/.exec(location(created))?.[1] ?? ""
    expect(await apiBusiness(id)).toMatchObject({
      name: "Harbour Dental",
      phone: "+14155550123",
      timezone: "America/New_York",
      country: "US",
      hours: { mon: [["09:00", "12:00"], ["13:00", "17:30"]], fri: [["09:00", "15:00"]] },
      escalation: [
        { phone: "+14155550124", ringSeconds: 25 }, // a step without its own: the default ring
        { phone: "+14155550125", ringSeconds: 30 }
      ],
      ringSeconds: 40,
      maxConcurrentCalls: 3,
      vipPhones: ["+14155550199"],
      smsFallback: true,
      allowedOrigins: ["https://dental.example"]
    })
    const shown = await html(await browser.get(location(created)))
    expect(shown).toContain("Harbour Dental was created")
    expect(shown).toContain("mon 09:00–12:00, 13:00–17:30; fri 09:00–15:00")
    expect((await audit("createBusiness")).at(-1)).toMatchObject({ outcome: "ok", via: "console" })
  })

  it("draws a form that is not valid again, with what was typed and each error at its field; nothing is created", async () => {
    const before = await businessCount()
    await html(await browser.get("/admin/businesses/new"))
    const invalid = (page: string, field: string) => new RegExp(`id="${field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="${field}"`).test(page)
    const bad = { ...form, name: "Typo Dental", "hours.mon": "09:00-25:00", timezone: "Mars/Olympus", ringSeconds: "500", maxConcurrentCalls: "many" }
    const refused = await browser.post("/admin/businesses", bad)
    expect(refused.status).toBe(400)
    const page = await html(refused)
    expect(page).toContain('id="errors"')
    for (const field of ["f-hours-mon", "f-timezone", "f-ringSeconds", "f-maxConcurrentCalls"]) expect(invalid(page, field), field).toBe(true)
    expect(invalid(page, "f-name")).toBe(false)
    expect(page).toContain("Monday: interval 1:")
    expect(page).not.toContain("Expected null") // the whole's error gives way to its part's
    expect(valueOf(page, "name")).toBe("Typo Dental")
    expect(valueOf(page, "hours.mon")).toBe("09:00-25:00")

    // phones are read once the rest is valid (in the business's country): each at its line
    const phones = await browser.post("/admin/businesses", { ...form, escalation: "+14155550124\nnot a phone", vipPhones: "12" })
    expect(phones.status).toBe(400)
    const second = await html(phones)
    expect(invalid(second, "f-escalation") && invalid(second, "f-vipPhones")).toBe(true)
    expect(second).toContain("Escalation chain: line 2:")
    expect(second).toContain('href="#f-escalation"')
    expect(valueOf(second, "escalation")).toBe("+14155550124\nnot a phone")
    expect(await businessCount()).toBe(before)
    expect((await audit("createBusiness")).at(-1)).toMatchObject({ outcome: "refused", via: "console" })
  })

  it("edits a business from a form filled with its settings; an edit that is not valid changes nothing", async () => {
    const business = await app.createBusiness({ name: "Corner Shop", escalation: [{ phone: "+14155550140", ringSeconds: 15 }], vipPhones: ["+14155550141"] })
    const edit = await html(await browser.get(`/admin/businesses/${business.id}/edit`))
    expect(valueOf(edit, "name")).toBe("Corner Shop")
    expect(valueOf(edit, "escalation")).toBe("+14155550140, 15")
    expect(valueOf(edit, "hours.mon")).toBe("") // always open: every day empty

    const fields = Object.fromEntries(
      ["name", "phone", "timezone", "country", "escalation", "ringSeconds", "maxConcurrentCalls", "vipPhones", "allowedOrigins"].map((name) => [name, valueOf(edit, name) ?? ""])
    )
    const saved = await browser.post(`/admin/businesses/${business.id}`, { ...fields, "hours.sat": "10:00-14:00", escalation: "", smsFallback: "" })
    expect(saved.status).toBe(303)
    expect(await apiBusiness(business.id)).toMatchObject({ name: "Corner Shop", hours: { sat: [["10:00", "14:00"]] }, escalation: [], vipPhones: ["+14155550141"], smsFallback: false })

    const before = await apiBusiness(business.id)
    const refused = await browser.post(`/admin/businesses/${business.id}`, { ...fields, allowedOrigins: "https://shop.example\nhttps://shop.example/path" })
    expect(refused.status).toBe(400)
    const page = await html(refused)
    expect(page).toContain("Allowed origins: line 2:")
    expect(await apiBusiness(business.id)).toEqual(before)
    expect((await audit("updateBusiness")).map((r) => r.outcome).slice(-2)).toEqual(["ok", "refused"])
  })

  it("issues a key shown once, which works until it is revoked", async () => {
    const business = await app.createBusiness()
    await html(await browser.get(`/admin/businesses/${business.id}`))
    const issued = await browser.post(`/admin/businesses/${business.id}/keys`, { kind: "secret", label: "crm" })
    expect(issued.status).toBe(200)
    const page = await html(issued)
    const key = /value="(sk_[A-Za-z0-9_-]+)"/.exec(page)?.[1] ?? ""
    expect(key).not.toBe("")
    expect(page).toContain("shown this once")
    const asBusiness = () => fetch(`${app.baseUrl}/v1/callbacks`, { headers: { authorization: `Bearer ${key}` } })
    expect((await asBusiness()).status).toBe(200)

    const detail = await html(await browser.get(`/admin/businesses/${business.id}`))
    expect(detail).not.toContain(key)
    expect(detail).toContain("crm")
    const keyId = /action="\/admin\/keys\/([0-9a-f-]{36})\/revoke"/.exec(detail)?.[1] ?? ""
    const revoked = await browser.post(`/admin/keys/${keyId}/revoke`, { afterSeconds: "0", back: `/admin/businesses/${business.id}` })
    expect(revoked.status).toBe(303)
    expect(decodeURIComponent(location(revoked))).toContain("revoked")
    expect((await asBusiness()).status).toBe(401)
    expect((await audit("issueKey")).at(-1)).toMatchObject({ outcome: "ok", target: `business:${business.id}` })
    expect((await audit("revokeKey")).at(-1)).toMatchObject({ outcome: "ok", target: `key:${keyId}` })

    const nonsense = await browser.post(`/admin/keys/${keyId}/revoke`, { afterSeconds: "-5" })
    expect(nonsense.status).toBe(400)
  })

  it("adds a webhook endpoint (its secret shown once), shows its deliveries, replays one, disables, rotates and deletes it", async () => {
    const business = await app.createBusiness()
    const path = "/console-hook"
    await html(await browser.get(`/admin/businesses/${business.id}/webhooks/new`))
    const notUrl = await browser.post(`/admin/businesses/${business.id}/webhooks`, { url: "ftp://nope", "event.callback.created": "on" })
    expect(notUrl.status).toBe(400)
    const redrawn = await html(notUrl)
    expect(redrawn).toMatch(/id="f-url"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="f-url"/)
    expect(redrawn).toMatch(/name="event\.callback\.created"[^>]*checked/)

    const added = await browser.post(`/admin/businesses/${business.id}/webhooks`, { url: receiver.base + path, "event.callback.created": "on", description: "console test" })
    expect(added.status).toBe(200)
    const secret = /value="(whsec_[^"]+)"/.exec(await html(added))?.[1] ?? ""
    expect(secret).not.toBe("")
    const endpointId = (await query<{ id: string }>(url, "SELECT id::text AS id FROM webhook_endpoints WHERE business_id = $1", [business.id]))[0]?.id ?? ""

    const created = await app.create(business.id)
    const delivery = await eventually(async () => receiver.received.find((d) => d.path === path), 15_000, "the delivery")
    const page = await eventually(async () => {
      const text = await html(await browser.get(`/admin/webhooks/${endpointId}`))
      return text.includes("callback.created") && text.includes("/replay") ? text : undefined
    }, 15_000, "the delivery log")
    expect(page).not.toContain(secret)
    const replayPath = /action="(\/admin\/webhooks\/[^"]+\/replay)"/.exec(page)?.[1] ?? ""
    const before = receiver.received.filter((d) => d.path === path).length
    expect((await browser.post(replayPath, { back: `/admin/webhooks/${endpointId}` })).status).toBe(303)
    const again = await eventually(async () => receiver.received.filter((d) => d.path === path)[before], 15_000, "the replay")
    expect(again.headers["webhook-id"]).toBe(delivery.headers["webhook-id"])
    expect(created.id).toBeDefined()

    const disabled = await browser.post(`/admin/webhooks/${endpointId}`, { url: receiver.base + path, "event.callback.created": "on", description: "console test" })
    expect(disabled.status).toBe(303)
    const shown = (await app.adminClient.GET("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId } } })).data
    expect(shown).toMatchObject({ enabled: false, eventTypes: ["callback.created"], description: "console test" })

    const rotated = await browser.post(`/admin/webhooks/${endpointId}/rotate-secret`)
    expect(rotated.status).toBe(200)
    const next = /value="(whsec_[^"]+)"/.exec(await html(rotated))?.[1] ?? ""
    expect(next).toMatch(/^whsec_/)
    expect(next).not.toBe(secret)

    const removed = await browser.post(`/admin/webhooks/${endpointId}/delete`)
    expect(removed.status).toBe(303)
    expect(location(removed)).toContain(`/admin/businesses/${business.id}`)
    expect((await app.adminClient.GET("/admin/api/webhooks/{endpointId}", { params: { path: { endpointId } } })).response.status).toBe(404)
    expect((await audit("deleteWebhookEndpoint")).at(-1)).toMatchObject({ outcome: "ok", target: `webhook:${endpointId}` })
    expect((await audit("replayWebhookDelivery")).at(-1)).toMatchObject({ outcome: "ok" })
  })
})
