/**
 * The console's business pages in Chromium: an operator creates a business
 * through the settings form, gets it wrong first (the form comes back with
 * what was typed, the error summary focused and each field marked), fixes it
 * and saves; edits its hours; issues a key (shown once) and adds a webhook
 * endpoint. Every one of these pages is free of console and CSP errors and
 * of serious axe-core findings at 1280 px and 360 px. Screenshots go to
 * tests/browser/screenshots/.
 */
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN } from "../support/app.ts"
import { type CallbackApp, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase } from "../support/database.ts"
import { consolePages, DESKTOP, NARROW, pageWidth, seriousFindings, signIn } from "./consoleSupport.ts"
import { focused, launchChromium, shot } from "./support.ts"

describe("the console's business pages in Chromium", () => {
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

  it("creates a business through its form, after showing what was wrong, then edits its hours", async () => {
    const { page, problems } = await pages.open()
    await signIn(page, app.baseUrl, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/businesses`)
    await page.getByRole("link", { name: "New business" }).click()
    await page.getByLabel("Name", { exact: true }).fill("Lakeside Vets")
    await page.getByLabel("Phone", { exact: true }).fill("+14155550170")
    await page.getByLabel("Time zone").fill("Europe/Berlin")
    await page.getByLabel("Monday").fill("9-17")
    await page.getByLabel("Escalation chain").fill("+14155550171, 30\n+14155550172")
    await page.getByRole("button", { name: "Create business" }).click()
    await page.waitForLoadState("load")

    // the form again: the summary is focused and read out, the field is marked, what was typed is kept
    expect(await focused(page)).toBe("div#errors")
    expect(await page.locator("#errors").textContent()).toContain("Monday: interval 1:")
    expect(await page.getByLabel("Monday").getAttribute("aria-invalid")).toBe("true")
    expect(await page.getByLabel("Escalation chain").inputValue()).toBe("+14155550171, 30\n+14155550172")
    await shot(page, "console-business-errors")
    await page.locator("#errors a").first().click()
    expect(await focused(page)).toBe("input#f-hours-mon")

    await page.getByLabel("Monday").fill("09:00-17:00")
    await page.getByRole("button", { name: "Create business" }).click()
    await page.waitForLoadState("load")
    expect(await page.locator(".notice").textContent()).toContain("Lakeside Vets was created")
    expect(await page.locator("h1").textContent()).toBe("Lakeside Vets")
    expect(await page.locator(".facts").textContent()).toContain("mon 09:00–17:00")

    await page.getByRole("link", { name: "Edit settings" }).click()
    expect(await page.getByLabel("Monday").inputValue()).toBe("09:00-17:00")
    await page.getByLabel("Saturday").fill("10:00-13:00")
    await page.getByRole("button", { name: "Save settings" }).click()
    await page.waitForLoadState("load")
    expect(await page.locator(".facts").textContent()).toContain("sat 10:00–13:00")
    expect(problems.filter((p) => !p.includes("400"))).toEqual([]) // the refused form's 400 is the only console line
  })

  it("issues a key shown once, and adds a webhook endpoint", async () => {
    const business = await app.createBusiness({ name: "Keys & Hooks" })
    const { page, problems } = await pages.open()
    await signIn(page, app.baseUrl, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/businesses/${business.id}`)
    await page.getByLabel("Kind").selectOption("publishable")
    await page.getByLabel("Label").fill("shop widget")
    await page.getByRole("button", { name: "Issue key" }).click()
    await page.waitForLoadState("load")
    const key = await page.getByLabel("key", { exact: true }).inputValue()
    expect(key).toMatch(/^pk_/)
    await shot(page, "console-key-issued")
    await page.getByRole("link", { name: "Done" }).click()
    expect(await page.locator("#keys").textContent()).toContain("shop widget")
    expect(await page.content()).not.toContain(key)

    await page.getByRole("link", { name: "Add an endpoint" }).click()
    await page.getByLabel("URL").fill("https://hooks.example/switchboard")
    await page.getByLabel("callback.completed").check()
    await page.getByRole("button", { name: "Add endpoint" }).click()
    await page.waitForLoadState("load")
    expect(await page.getByLabel("signing secret").inputValue()).toMatch(/^whsec_/)
    await page.getByRole("link", { name: "Done" }).click()
    expect(await page.locator("h1").textContent()).toContain("Webhook endpoint of Keys & Hooks")
    expect(await page.getByLabel("callback.completed").isChecked()).toBe(true)
    await shot(page, "console-webhook")
    expect(problems).toEqual([])
  })

  it("shows the business pages without console or CSP errors or serious accessibility findings, at 1280 px and at 360 px", async () => {
    const business = await app.createBusiness({ name: "Checked Everywhere", hours: { mon: [["09:00", "17:00"]] }, escalation: [{ phone: "+14155550180" }] })
    const endpoint = await app.adminClient.POST("/admin/api/businesses/{businessId}/webhooks", { params: { path: { businessId: business.id } }, body: { url: "https://hooks.example/a" } })
    await app.adminClient.POST("/admin/api/businesses/{id}/keys", { params: { path: { id: business.id } }, body: { kind: "secret" } })
    const paths = [
      "/admin/businesses",
      "/admin/businesses/new",
      `/admin/businesses/${business.id}`,
      `/admin/businesses/${business.id}/edit`,
      `/admin/businesses/${business.id}/webhooks/new`,
      `/admin/webhooks/${endpoint.data?.id}`
    ]
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
      await page.goto(`${app.baseUrl}/admin/businesses/${business.id}`)
      await shot(page, viewport === DESKTOP ? "console-business" : "console-business-360")
      await page.goto(`${app.baseUrl}/admin/businesses/${business.id}/edit`)
      await shot(page, viewport === DESKTOP ? "console-business-edit" : "console-business-edit-360")
    }
  })
})
