/**
 * The console's departments, call flows and mid-call routing in Chromium: an
 * operator adds a department from the business page (wrong first: the form
 * comes back open, the error summary focused and the field marked), sees it
 * listed, saves a call flow with a keypad menu and reads it back as text, and
 * moves a request whose call is in progress to the department (the browser's
 * confirmation accepted). The pages are free of console and CSP errors and of
 * serious axe-core findings at 1280 px and 360 px. Screenshots go to
 * tests/browser/screenshots/.
 */
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN } from "../support/app.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase } from "../support/database.ts"
import { consolePages, DESKTOP, NARROW, pageWidth, seriousFindings, signIn } from "./consoleSupport.ts"
import { focused, launchChromium, shot } from "./support.ts"

const menuFlow = {
  announcement: { lines: ["Callback request from {name}.", "Their note: {note}"] },
  menu: {
    prompt: { lines: ["Press 1 to take it, 2 to send it to billing."] },
    choices: [
      { digit: "1", action: "accept" },
      { digit: "2", action: "route", department: "billing" }
    ],
    timeoutSeconds: 5,
    noInput: "accept"
  },
  bridge: { timeoutSeconds: 30, record: false }
}

describe("the console's departments in Chromium", () => {
  let app: CallbackApp
  let browser: Browser
  const pages = consolePages(() => browser)

  beforeAll(async () => {
    app = await startCallbackApp({ databaseUrl: await cloneDatabase() })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await pages.close()
    await browser?.close()
    await app?.dispose()
  })

  it("adds a department from the business page, after showing what was wrong, and saves its business's call flow", async () => {
    const business = await app.createBusiness({ name: "Harbour Dental", country: "US", hours: { mon: [["09:00", "17:00"]] } })
    const { page, problems } = await pages.open()
    await signIn(page, app.baseUrl, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/businesses/${business.id}`)
    await page.getByText("Add a department").click()
    await page.getByLabel("Key").fill("billing")
    await page.getByLabel("Name", { exact: true }).fill("Billing")
    await page.getByLabel("Phone", { exact: true }).fill("(415) 555-0190")
    await page.getByLabel("Escalation chain").fill("+14155550191, 30\nnot a phone")
    await page.getByRole("button", { name: "Add department" }).click()
    await page.waitForLoadState("load")

    // the business page again, the form open with what was typed, its summary focused
    expect(await focused(page)).toBe("div#errors")
    expect(await page.locator("#errors").textContent()).toContain("Escalation chain: line 2:")
    expect(await page.getByLabel("Escalation chain").getAttribute("aria-invalid")).toBe("true")
    expect(await page.getByLabel("Key").inputValue()).toBe("billing")
    await shot(page, "console-department-errors")

    await page.getByLabel("Escalation chain").fill("+14155550191, 30")
    await page.getByRole("button", { name: "Add department" }).click()
    await page.waitForLoadState("load")
    expect(await page.locator(".notice").textContent()).toContain("Department Billing (billing) added")
    const row = page.locator("#departments tr", { hasText: "Billing" })
    expect(await row.textContent()).toContain("+14155550190")
    expect(await row.textContent()).toContain("business hours")
    await shot(page, "console-departments")

    // the business's own line's flow: the default, then a menu that can send the caller to billing
    await page.locator("#departments tr", { hasText: "own line" }).getByRole("link", { name: "version 0" }).click()
    expect(await page.locator("h2").first().textContent()).toBe("In force: the default flow (version 0)")
    await page.getByLabel("Call flow").fill(JSON.stringify(menuFlow, null, 2))
    await page.getByRole("button", { name: "Save as a new version" }).click()
    await page.waitForLoadState("load")
    expect(await page.locator(".notice").textContent()).toContain("Version 1 of the call flow saved")
    expect(await page.locator(".facts").textContent()).toContain("send the request to Billing")
    expect(await page.locator("#flow-versions").textContent()).toContain("1 (in force)")
    await shot(page, "console-call-flow")
    expect(problems.filter((p) => !p.includes("400"))).toEqual([]) // the refused form's 400 is the only console line
  })

  it("moves a request whose call is in progress to another department", async () => {
    const business = await app.createBusiness({ name: "Corner Shop" })
    const billing = freshNumber()
    await app.request(`/admin/api/businesses/${business.id}/departments/billing`, { method: "PUT", admin: true, body: JSON.stringify({ name: "Billing", phone: billing }) })
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 60_000 })
    await app.script(billing, "answered", { afterMs: 50, talkMs: 100 })
    const created = await app.verified(business.id)
    await app.waitForStatus(created.id, "connected", 20_000)

    const { page, problems } = await pages.open()
    await signIn(page, app.baseUrl, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/callbacks/${created.id}`)
    expect(await page.locator(".facts").textContent()).toContain("Corner Shop (main)")
    await page.getByLabel("Move to", { exact: true }).selectOption("billing")
    await shot(page, "console-callback-move")
    page.once("dialog", (dialog) => void dialog.accept())
    await page.getByRole("button", { name: "Move to department" }).click()
    await page.waitForLoadState("load")
    expect(await page.locator(".notice").textContent()).toContain("Callback request moved to Billing")
    expect(await page.locator(".facts").textContent()).toContain("1 of at most 3 times")
    await app.waitForStatus(created.id, "completed", 30_000)
    expect(problems).toEqual([])
  })

  it("shows the department pages without console or CSP errors or serious accessibility findings, at 1280 px and at 360 px", async () => {
    const business = await app.createBusiness({ name: "Checked Everywhere", hours: { mon: [["09:00", "17:00"]] } })
    const put = (key: string, body: unknown) => app.request(`/admin/api/businesses/${business.id}/departments/${key}`, { method: "PUT", admin: true, body: JSON.stringify(body) })
    expect((await put("billing", { name: "Billing", phone: freshNumber(), escalation: [{ phone: freshNumber(), ringSeconds: 20 }], hours: { tue: [["10:00", "12:00"]] } })).status).toBe(201)
    expect((await app.request(`/admin/api/businesses/${business.id}/departments/billing/flow`, { method: "PUT", admin: true, body: JSON.stringify({ ...menuFlow, menu: { ...menuFlow.menu, choices: [{ digit: "1", action: "accept" }, { digit: "2", action: "route", department: "main" }] } }) })).status).toBe(201)
    const paths = [`/admin/businesses/${business.id}`, `/admin/businesses/${business.id}/departments/billing`, `/admin/businesses/${business.id}/departments/billing/flow`, `/admin/businesses/${business.id}/departments/main/flow`]
    for (const viewport of [DESKTOP, NARROW]) {
      const { page, problems } = await pages.open(viewport)
      await signIn(page, app.baseUrl, "", ADMIN_TOKEN)
      for (const path of paths) {
        const response = await page.goto(app.baseUrl + path)
        expect(response?.status(), path).toBe(200)
        expect(await seriousFindings(page), `${path} at ${viewport.width} px`).toEqual([])
        expect(await pageWidth(page), path).toBeLessThanOrEqual(viewport.width)
      }
      expect(problems, `at ${viewport.width} px`).toEqual([])
      await page.goto(`${app.baseUrl}/admin/businesses/${business.id}/departments/billing`)
      await shot(page, viewport === DESKTOP ? "console-department" : "console-department-360")
      await page.goto(`${app.baseUrl}/admin/businesses/${business.id}/departments/billing/flow`)
      await shot(page, viewport === DESKTOP ? "console-department-flow" : "console-department-flow-360")
    }
  })
})
