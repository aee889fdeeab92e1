/**
 * The console's departments, call flows and mid-call routing over real HTTP,
 * as an operator's browser posts them: a department added from the business
 * page is stored as the API's PUT stores it (its phones read in the business's
 * country) and listed; a form that is not valid comes back with what was typed
 * and each error at its field, and changes nothing; a department's page
 * replaces its fields; a call flow is saved as a new version, and one that is
 * not valid comes back with each error at its path; a department with a
 * request in progress is not removed (the 409 shown as a refused action); a
 * request whose call is in progress is moved to another department from its
 * page. Each change is an audit row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { type ConsoleClient, consoleClient } from "../../support/console.ts"
import { cloneDatabase, query } from "../../support/database.ts"

interface DepartmentSeen {
  readonly key: string
  readonly name: string
  readonly phone: string
  readonly ringSeconds: number
  readonly escalation: ReadonlyArray<{ readonly phone: string; readonly ringSeconds: number }>
  readonly hours?: Record<string, ReadonlyArray<readonly [string, string]>>
  readonly maxConcurrentCalls: number
}

describe("the console's departments, call flows and routing", () => {
  let app: CallbackApp
  let url: string
  let browser: ConsoleClient

  const admin = (path: string, method = "GET", body?: unknown) => app.request(path, { method, admin: true, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const departments = async (businessId: string) => ((await (await admin(`/admin/api/businesses/${businessId}/departments`)).json()) as { items: ReadonlyArray<DepartmentSeen> }).items
  const versions = async (businessId: string, key: string) =>
    ((await (await admin(`/admin/api/businesses/${businessId}/departments/${key}/flow/versions`)).json()) as { items: ReadonlyArray<{ version: number; flow: Record<string, unknown> }> }).items
  const audit = (action: string) => query<{ outcome: string; target: string | null; detail: Record<string, unknown> | null }>(url, "SELECT outcome, target, detail FROM operator_audit WHERE action = $1 ORDER BY id", [action])
  const html = async (response: Response) => {
    const text = await response.text()
    browser.csrfOf(text)
    return text
  }
  const location = (response: Response) => decodeURIComponent((response.headers.get("location") ?? "").replace(/\+/g, " "))
  const invalid = (page: string, id: string) => new RegExp(`id="${id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="${id}"`).test(page)
  /** The value of the form control named `name` in `page` (an input's value, a textarea's text). */
  const valueOf = (page: string, name: string): string | undefined => {
    const escaped = name.replace(/\./g, "\\.")
    const input = new RegExp(`<input[^>]*name="${escaped}"[^>]*value="([^"]*)"`).exec(page) ?? new RegExp(`<input[^>]*value="([^"]*)"[^>]*name="${escaped}"`).exec(page)
    if (input !== null) return input[1]
    return new RegExp(`<textarea[^>]*name="${escaped}"[^>]*>([^<]*)</textarea>`).exec(page)?.[1]
  }
  const unescape = (text: string) => text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")

  /** A business in the US (local numbers are read there) with a department `billing`, added through the API. */
  const withBilling = async () => {
    const business = await app.createBusiness({ name: "Harbour Dental", country: "US" })
    const billing = freshNumber()
    expect((await admin(`/admin/api/businesses/${business.id}/departments/billing`, "PUT", { name: "Billing", phone: billing, ringSeconds: 10 })).status).toBe(201)
    return { business, billing }
  }

  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url })
    browser = consoleClient(app.baseUrl)
    expect((await browser.signIn("", ADMIN_TOKEN)).status).toBe(303)
  }, 60_000)
  afterAll(() => app.dispose())

  it("adds a department from the business page's form: stored as the API's PUT stores it, and listed", async () => {
    const business = await app.createBusiness({ name: "Lakeside Vets", country: "US" })
    const before = await html(await browser.get(`/admin/businesses/${business.id}`))
    expect(before).toContain("(the business&#39;s own line)")
    expect(valueOf(before, "ringSeconds")).toBe("25") // the API's default, in the add form

    const added = await browser.post(`/admin/businesses/${business.id}/departments`, {
      back: `/admin/businesses/${business.id}`,
      key: "billing",
      name: "Billing",
      phone: "(415) 555-0150",
      escalation: "+14155550151, 30\n415-555-0152",
      ringSeconds: "20",
      maxConcurrentCalls: "2",
      "hours.mon": "08:00-12:00"
    })
    expect(added.status).toBe(303)
    expect(location(added)).toContain(`/admin/businesses/${business.id}?notice=Department Billing (billing) added`)
    expect(await departments(business.id)).toEqual([
      expect.objectContaining({
        key: "billing",
        name: "Billing",
        phone: "+14155550150",
        ringSeconds: 20,
        escalation: [
          { phone: "+14155550151", ringSeconds: 30 },
          { phone: "+14155550152", ringSeconds: 25 } // a step without its own: the default ring
        ],
        hours: { mon: [["08:00", "12:00"]] },
        maxConcurrentCalls: 2
      })
    ])

    const listed = await html(await browser.get(location(added)))
    const table = /<table id="departments">[\s\S]*?<\/table>/.exec(listed)?.[0] ?? ""
    expect(table).toContain(`href="/admin/businesses/${business.id}/departments/billing"`)
    expect(table).toContain("+14155550150")
    expect(table).toContain("1. +14155550151 (30 s); 2. +14155550152 (25 s)")
    expect(table).toContain("mon 08:00–12:00")
    expect(table).toContain(`href="/admin/businesses/${business.id}/departments/billing/flow">version 0`)
    expect((await audit("putDepartment")).at(-1)).toMatchObject({ outcome: "ok", target: `business:${business.id}`, detail: { department: "billing", created: true } })

    // a department without hours of its own keeps the business's
    expect((await browser.post(`/admin/businesses/${business.id}/departments`, { key: "sales", name: "Sales", phone: "+14155550153" })).status).toBe(303)
    const both = await html(await browser.get(`/admin/businesses/${business.id}`))
    expect(/<table id="departments">[\s\S]*?<\/table>/.exec(both)?.[0]).toContain("business hours")
    expect((await departments(business.id)).map((d) => d.key)).toEqual(["billing", "sales"])
  })

  it("draws an add form that is not valid again on the business page, with what was typed and each error at its field; nothing changes", async () => {
    const { business } = await withBilling()
    await html(await browser.get(`/admin/businesses/${business.id}`))
    const bad = { back: `/admin/businesses/${business.id}`, key: "Front Desk", name: "Front desk", phone: "not a phone", ringSeconds: "500", escalation: "+14155550160\n12", "hours.tue": "09:00-25:00", maxConcurrentCalls: "many" }
    const refused = await browser.post(`/admin/businesses/${business.id}/departments`, bad)
    expect(refused.status).toBe(400)
    const page = await html(refused)
    expect(page).toContain("<h1>Harbour Dental</h1>") // the business page again
    expect(page).toMatch(/<details open="" id="add-department">|<details open id="add-department">/)
    expect(page).toContain('id="errors"')
    for (const field of ["f-key", "f-phone", "f-ringSeconds", "f-escalation", "f-hours-tue", "f-maxConcurrentCalls"]) expect(invalid(page, field), field).toBe(true)
    expect(invalid(page, "f-name")).toBe(false)
    expect(page).toContain("Escalation chain: line 2:")
    expect(page).toContain("Tuesday: interval 1:")
    expect(valueOf(page, "key")).toBe("Front Desk")
    expect(valueOf(page, "escalation")).toBe("+14155550160\n12")

    // main is the business itself, and a key that is taken is not replaced by an add
    for (const key of ["main", "billing"]) {
      const taken = await browser.post(`/admin/businesses/${business.id}/departments`, { key, name: "Again", phone: "+14155550161" })
      expect(taken.status, key).toBe(400)
      const text = await html(taken)
      expect(invalid(text, "f-key"), key).toBe(true)
    }
    expect(await departments(business.id)).toEqual([expect.objectContaining({ key: "billing", name: "Billing" })])
    expect((await audit("putDepartment")).at(-1)).toMatchObject({ outcome: "refused" })
  })

  it("changes a department from its page, filled with its fields: every field is replaced, as the API's PUT does", async () => {
    const { business, billing } = await withBilling()
    expect((await admin(`/admin/api/businesses/${business.id}/departments/billing`, "PUT", { name: "Billing", phone: billing, hours: { fri: [["09:00", "12:00"]] } })).status).toBe(200)
    const shown = await html(await browser.get(`/admin/businesses/${business.id}/departments/billing`))
    expect(valueOf(shown, "name")).toBe("Billing")
    expect(valueOf(shown, "phone")).toBe(billing)
    expect(valueOf(shown, "hours.fri")).toBe("09:00-12:00")
    expect(valueOf(shown, "key")).toBeUndefined() // a key does not change

    const refused = await browser.post(`/admin/businesses/${business.id}/departments/billing`, { name: "", phone: billing, maxConcurrentCalls: "0" })
    expect(refused.status).toBe(400)
    const again = await html(refused)
    expect(invalid(again, "f-name") && invalid(again, "f-maxConcurrentCalls")).toBe(true)
    expect((await departments(business.id))[0]).toMatchObject({ name: "Billing", hours: { fri: [["09:00", "12:00"]] } })

    const saved = await browser.post(`/admin/businesses/${business.id}/departments/billing`, { name: "Accounts", phone: billing, escalation: "+14155550170, 15", maxConcurrentCalls: "3" })
    expect(saved.status).toBe(303)
    expect(location(saved)).toContain(`/admin/businesses/${business.id}/departments/billing?notice=Department Accounts saved.`)
    const [stored] = await departments(business.id)
    expect(stored).toMatchObject({ name: "Accounts", escalation: [{ phone: "+14155550170", ringSeconds: 15 }], maxConcurrentCalls: 3, ringSeconds: 25 })
    expect(stored?.hours).toBeUndefined() // every day left empty: the business's hours again
    expect((await audit("putDepartment")).at(-1)).toMatchObject({ outcome: "ok", detail: { department: "billing", created: false } })
  })

  it("shows the flow in force, saves a new version from its JSON, and draws one that is not valid again with each error at its path", async () => {
    const { business } = await withBilling()
    const flowPath = `/admin/businesses/${business.id}/departments/main/flow`
    const first = await html(await browser.get(flowPath))
    expect(first).toContain("In force: the default flow (version 0)")
    expect(first).toContain("<li>Callback request from {name}.</li>")
    expect(first).toContain("none: the visitor is called at once")
    const prefilled = JSON.parse(unescape(valueOf(first, "flow") ?? "")) as { announcement: { lines: ReadonlyArray<string> } }
    expect(prefilled.announcement.lines[0]).toBe("Callback request from {name}.")

    const flow = {
      announcement: { lines: ["A callback for {topic}: {name}."], voice: "Polly.Joanna-Neural" },
      menu: {
        prompt: { lines: ["Press 1 to take it, 2 for billing."] },
        choices: [
          { digit: "1", action: "accept" },
          { digit: "2", action: "route", department: "billing" }
        ],
        timeoutSeconds: 5,
        noInput: "accept"
      },
      bridge: { timeoutSeconds: 40, record: true }
    }
    const saved = await browser.post(flowPath, { flow: JSON.stringify(flow, null, 2) })
    expect(saved.status).toBe(303)
    expect(location(saved)).toContain("Version 1 of the call flow saved")
    const shown = await html(await browser.get(flowPath))
    expect(shown).toContain("In force: version 1")
    expect(shown).toContain("<kbd>2</kbd> send the request to Billing")
    expect(shown).toContain("rings up to 40 s; the call is recorded")
    expect(shown).toContain("voice Polly.Joanna-Neural")
    expect(/<table id="flow-versions">[\s\S]*?<\/table>/.exec(shown)?.[0]).toContain("1 (in force)")
    expect((await versions(business.id, "main"))[0]?.flow).toEqual(flow)
    expect((await audit("putCallFlow")).at(-1)).toMatchObject({ outcome: "ok", target: `business:${business.id}`, detail: { department: "main", version: 1 } })

    // the API's rules, at their paths; the text comes back as typed
    const malformed = JSON.stringify({ announcement: { lines: [] }, bridge: { timeoutSeconds: 1, record: false } })
    const refused = await browser.post(flowPath, { flow: malformed })
    expect(refused.status).toBe(400)
    const page = await html(refused)
    expect(invalid(page, "f-flow")).toBe(true)
    expect(page).toContain("Call flow: announcement.lines: must have at least one line")
    expect(page).toContain("Call flow: bridge.timeoutSeconds: must be an integer from 5 to 120")
    expect(unescape(valueOf(page, "flow") ?? "")).toBe(malformed)
    // the use case's rule (a route to a department the business lacks), at its path
    const elsewhere = await browser.post(flowPath, { flow: JSON.stringify({ ...flow, menu: { ...flow.menu, choices: [{ digit: "2", action: "route", department: "sales" }] } }) })
    expect(elsewhere.status).toBe(400)
    expect(await html(elsewhere)).toContain("Call flow: menu.choices.0.department: is not a department of this business")
    const notJson = await browser.post(flowPath, { flow: "{ announcement: " })
    expect(notJson.status).toBe(400)
    expect(await html(notJson)).toContain("Call flow: is not JSON")
    expect((await versions(business.id, "main")).map((v) => v.version)).toEqual([1])

    // a department's flow: its own versions; an older version may start the form
    expect((await browser.post(`/admin/businesses/${business.id}/departments/billing/flow`, { flow: JSON.stringify({ ...flow, menu: undefined }) })).status).toBe(303)
    expect((await browser.post(`/admin/businesses/${business.id}/departments/billing/flow`, { flow: JSON.stringify({ ...flow, menu: undefined, bridge: { timeoutSeconds: 20, record: false } }) })).status).toBe(303)
    const fromFirst = await html(await browser.get(`/admin/businesses/${business.id}/departments/billing/flow?from=1`))
    expect(fromFirst).toContain("In force: version 2")
    expect((JSON.parse(unescape(valueOf(fromFirst, "flow") ?? "")) as { bridge: unknown }).bridge).toEqual({ timeoutSeconds: 40, record: true })
  })

  it("refuses to remove a department with a request in progress, as a refused action; removes it once there is none", async () => {
    const { business } = await withBilling()
    const phone = freshNumber()
    const created = await admin("/v1/callbacks", "POST", { businessId: business.id, phone, name: "Grace", topic: "billing" })
    expect(created.status).toBe(202)
    const { id } = (await created.json()) as { id: string }

    const shown = await html(await browser.get(`/admin/businesses/${business.id}/departments/billing`))
    expect(shown).toContain(`action="/admin/businesses/${business.id}/departments/billing/delete"`)
    const refused = await browser.post(`/admin/businesses/${business.id}/departments/billing/delete`, { back: `/admin/businesses/${business.id}/departments/billing` })
    expect(refused.status).toBe(409)
    const page = await html(refused)
    expect(page).toContain("<h1>Conflict</h1>")
    expect(page).toContain("department billing has 1 callback request(s) in progress")
    expect(await departments(business.id)).toHaveLength(1)
    expect((await audit("deleteDepartment")).at(-1)).toMatchObject({ outcome: "refused", target: `business:${business.id}` })

    // the request's page names its department; once it is cancelled the department goes
    const request = await html(await browser.get(`/admin/callbacks/${id}`))
    expect(request).toContain(`<a href="/admin/businesses/${business.id}/departments/billing">Billing</a>`)
    expect(request).not.toContain("Move to department") // no call in progress
    expect((await browser.post(`/admin/callbacks/${id}/cancel`)).status).toBe(303)
    const removed = await browser.post(`/admin/businesses/${business.id}/departments/billing/delete`)
    expect(removed.status).toBe(303)
    expect(location(removed)).toContain(`/admin/businesses/${business.id}?notice=Department Billing (billing) removed.`)
    expect(await departments(business.id)).toEqual([])
    expect((await audit("deleteDepartment")).at(-1)).toMatchObject({ outcome: "ok" })
  })

  it("moves a request whose call is in progress to another department from its page; a move that may not happen is refused with the reason", async () => {
    const { business, billing } = await withBilling()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 60_000 })
    await app.script(billing, "answered", { afterMs: 50, talkMs: 100 })
    const created = await app.verified(business.id)
    await app.waitForStatus(created.id, "connected", 20_000)

    const page = await html(await browser.get(`/admin/callbacks/${created.id}`))
    expect(page).toContain("Harbour Dental (main)")
    const select = /<select[^>]*name="department"[^>]*>([\s\S]*?)<\/select>/.exec(page)?.[1] ?? ""
    expect(select).toContain('<option value="billing">Billing</option>')
    expect(select).not.toContain('value="main"') // where it is already
    const moved = await browser.post(`/admin/callbacks/${created.id}/route`, { department: "billing", back: `/admin/callbacks/${created.id}` })
    expect(moved.status).toBe(303)
    expect(location(moved)).toContain(`/admin/callbacks/${created.id}?notice=Callback request moved to Billing`)
    const view = (await (await admin(`/admin/api/callbacks/${created.id}`)).json()) as { department: string; routes: number }
    expect(view).toMatchObject({ department: "billing", routes: 1 })
    expect((await audit("routeCallback")).at(-1)).toMatchObject({ outcome: "ok", target: `callback:${created.id}`, detail: { department: "billing", routes: 1 } })
    const after = await html(await browser.get(`/admin/callbacks/${created.id}`))
    expect(after).toContain("1 of at most 3 times")

    // a request with no call in progress is not moved: the console says why, as for any refused action
    const waiting = await app.create(business.id)
    const refused = await browser.post(`/admin/callbacks/${waiting.id}/route`, { department: "billing" })
    expect(refused.status).toBe(409)
    expect(await html(refused)).toContain("a pending_verification request has no call in progress to move")
    expect((await audit("routeCallback")).at(-1)).toMatchObject({ outcome: "refused", target: `callback:${waiting.id}` })
    await app.waitForStatus(created.id, "completed", 30_000)
  })
})
