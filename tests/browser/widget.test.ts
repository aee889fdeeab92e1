/**
 * The widget in a real browser (Debian's Chromium, driven by playwright-core):
 * a shop's page on another origin embeds it under a strict CSP; a visitor asks
 * for a callback, reads the code the simulator received, verifies, and watches
 * the status go live to "completed", by mouse and by keyboard alone; a page
 * from an origin the business does not allow creates nothing; the demo page
 * works the same on the API's own origin (where its department offers a topic
 * and times). Screenshots of each state go to tests/browser/screenshots/
 * (git-ignored). Run with `npm run test:browser`.
 */
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase, query } from "../support/database.ts"
import { focused, launchChromium, type PageGlobals, recordStatus, shot, startShop, statusLog, waitForStatus, watch } from "./support.ts"

const DESKTOP = { width: 1024, height: 768 }
const NARROW = { width: 320, height: 640 }

/** The national form of a fresh US number (the widget's visitor types it the local way: the business is in the US). */
const national = (e164: string) => `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`

describe("the widget in Chromium", () => {
  let app: CallbackApp
  let databaseUrl: string
  let browser: Browser
  let shop: Awaited<ReturnType<typeof startShop>>
  let business: { id: string; phone: string }
  let key: string
  const contexts: Array<BrowserContext> = []

  const open = async (url: string, viewport = DESKTOP): Promise<{ page: Page; problems: Array<string> }> => {
    const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC" })
    contexts.push(context)
    const page = await context.newPage()
    const { problems } = await watch(page)
    await page.goto(url)
    return { page, problems }
  }

  const requestsFor = async (phone: string) => (await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM callback_requests WHERE phone = $1", [phone]))[0]?.n

  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl })
    browser = await launchChromium()
    shop = await startShop(app.baseUrl)
    business = await app.createBusiness({ name: "Acme Plumbing", country: "US", allowedOrigins: [shop.origin] })
    const issued = await app.request(`/admin/api/businesses/${business.id}/keys`, { method: "POST", admin: true, body: JSON.stringify({ kind: "publishable" }) })
    expect(issued.status).toBe(201)
    key = ((await issued.json()) as { key: string }).key
  })

  afterAll(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await shop?.close()
    await app?.dispose()
  })

  it("takes a request on another origin's page, and shows each status live until completed, with no console or CSP error", async () => {
    await app.script(business.phone, "answered", { afterMs: 600, talkMs: 1500 })
    const visitor = freshNumber()
    const { page, problems } = await open(shop.page("plain", { key }))
    const phone = page.getByLabel("Mobile number")
    await phone.waitFor()
    expect(await page.locator("switchboard-callback h2").textContent()).toBe("Acme Plumbing can call you back")
    expect(await page.locator("switchboard-callback .hint").first().textContent()).toBe("Numbers without + are read as United States (+1) numbers.")
    await shot(page, "1-form-1024")
    await page.setViewportSize(NARROW)
    await shot(page, "1-form-320")
    // nothing wider than the viewport at 320 px
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(NARROW.width)
    await page.setViewportSize(DESKTOP)

    await phone.fill(national(visitor))
    await page.getByLabel("Name (optional)").fill("Ada")
    await page.getByLabel("What is it about? (optional)").fill("The kitchen sink leaks.")
    await page.getByRole("button", { name: "Call me back" }).click()
    const code = page.getByLabel("Code", { exact: true })
    await code.waitFor()
    expect(await page.locator("switchboard-callback").getByText(`We texted a 6-digit code to ${national(visitor)}.`).count()).toBe(1)
    await recordStatus(page)

    // a wrong code first: the error names the attempts left
    await code.fill("000000")
    await page.getByRole("button", { name: "Confirm" }).click()
    await page.locator("switchboard-callback #code-error").filter({ hasText: "Attempts left" }).waitFor()
    expect(await code.getAttribute("aria-invalid")).toBe("true")
    await shot(page, "2-code-wrong-1024")

    await code.fill(await app.codeFor(visitor))
    await page.getByRole("button", { name: "Confirm" }).click()
    await waitForStatus(page, "Connected: answer your phone.")
    await shot(page, "3-connected-1024")
    await waitForStatus(page, "Completed")
    await shot(page, "4-completed-1024")
    await page.setViewportSize(NARROW)
    await shot(page, "4-completed-320")

    const log = await statusLog(page)
    expect(log).toContain("Calling Acme Plumbing…")
    expect(log.indexOf("Calling Acme Plumbing…")).toBeLessThan(log.indexOf("Connected: answer your phone."))
    expect(log.at(-1)).toBe("Completed. Thanks for calling!")
    expect(await page.getByRole("button", { name: "Request another callback" }).isVisible()).toBe(true)
    expect((await app.view((await query<{ id: string }>(databaseUrl, "SELECT id FROM callback_requests WHERE phone = $1", [visitor]))[0]?.id ?? "")).status).toBe("completed")
    // the only complaint: Chromium logs the wrong code's 400 as a failed load
    expect(problems).toEqual(["console.error: Failed to load resource: the server responded with a status of 400 (Bad Request)"])
  })

  it("can be completed with the keyboard alone at 320 px, moving focus to each step", async () => {
    await app.script(business.phone, "answered", { afterMs: 200, talkMs: 300 })
    const visitor = freshNumber()
    const { page, problems } = await open(shop.page("keyboard", { key }), NARROW)
    await page.getByLabel("Mobile number").waitFor()
    await page.keyboard.press("Tab")
    expect(await focused(page)).toBe("input#phone")
    await page.keyboard.type(visitor)
    await page.keyboard.press("Tab")
    expect(await focused(page)).toBe("input#name")
    await page.keyboard.press("Tab")
    expect(await focused(page)).toBe("textarea#note")
    await page.keyboard.press("Tab")
    expect(await focused(page)).toBe("button:Call me back")
    await page.keyboard.press("Enter")
    await page.getByLabel("Code", { exact: true }).waitFor()
    expect(await focused(page)).toBe("input#code") // focus follows the step
    await shot(page, "2-code-320")
    await page.keyboard.type(await app.codeFor(visitor))
    await page.keyboard.press("Enter")
    await waitForStatus(page, /Completed/)
    expect(await focused(page)).toBe("h2:Your callback")
    // and back to the form for another request
    await page.keyboard.press("Tab")
    expect(await focused(page)).toBe("button:Request another callback")
    await page.keyboard.press("Enter")
    expect(await focused(page)).toBe("input#phone")
    expect(problems).toEqual([])
  })

  it("picks a request up on the next page, and says when the business will try again and when it could not be reached", async () => {
    await app.script(business.phone, "no-answer", { afterMs: 100 })
    const visitor = freshNumber()
    const { page, problems } = await open(shop.page("retry", { key }))
    await page.getByLabel("Mobile number").fill(visitor)
    await page.getByRole("button", { name: "Call me back" }).click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    // "use another number", then the same one again: back to its code, no second request
    await page.getByRole("button", { name: "Use another number" }).click()
    expect(await page.getByLabel("Mobile number").inputValue()).toBe(visitor)
    await page.getByRole("button", { name: "Call me back" }).click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    expect(await requestsFor(visitor)).toBe("1")
    // the visitor goes to another page of the site: the widget there is at the same step
    await page.reload()
    await page.getByLabel("Code", { exact: true }).fill(await app.codeFor(visitor))
    await recordStatus(page)
    await page.getByRole("button", { name: "Confirm" }).click()
    await waitForStatus(page, "We couldn't reach Acme Plumbing")
    await shot(page, "5-failed-1024")
    const log = await statusLog(page)
    expect(log.some((text) => /^Nobody answered\. We'll try again at \d{1,2}:\d{2}\s?[AP]M\.$/.test(text)), log.join(" | ")).toBe(true)
    expect(problems).toEqual([])
  })

  it("speaks the page's language, takes text overrides and is themed by custom properties", async () => {
    const { page, problems } = await open(shop.page("spanish", { key, lang: "es-MX", attributes: 'text-submit="¡Llámame!"', bodyClass: "themed" }))
    await page.getByLabel("Número de móvil").waitFor()
    expect(await page.locator("switchboard-callback h2").textContent()).toBe("Acme Plumbing puede llamarle")
    const submit = page.getByRole("button", { name: "¡Llámame!" })
    expect(await submit.evaluate((button) => (globalThis as unknown as PageGlobals).getComputedStyle(button).backgroundColor)).toBe("rgb(200, 0, 100)")
    await submit.click()
    expect(await page.locator("switchboard-callback #phone-error").textContent()).toBe("Introduzca su número de móvil.")
    expect(await focused(page)).toBe("input#phone")
    // the element's own lang wins over the page's
    await page.evaluate(() => (globalThis as unknown as PageGlobals).document.querySelector("switchboard-callback")?.setAttribute("lang", "de"))
    await page.getByLabel("Handynummer").waitFor()
    await shot(page, "6-german-themed-1024")
    expect(problems).toEqual([])
  })

  it("creates nothing from a page on an origin the business does not allow (the browser refuses the calls)", async () => {
    const stranger = await startShop(app.baseUrl)
    try {
      const visitor = freshNumber()
      const { page, problems } = await open(stranger.page("stranger", { key }))
      await waitForStatus(page, "Callbacks can't be requested here right now.")
      expect(await page.getByLabel("Mobile number").isVisible()).toBe(false)
      // the page's own script tries the API directly: CORS stops it in the browser
      const outcome = await page.evaluate(
        async ({ api, key, phone }) => {
          try {
            const response = await fetch(`${api}/v1/callbacks?key=${key}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ phone }) })
            return `answered ${response.status}`
          } catch (error) {
            return `refused: ${(error as Error).name}`
          }
        },
        { api: app.baseUrl, key, phone: visitor }
      )
      expect(outcome).toBe("refused: TypeError")
      expect(problems.some((p) => p.includes("CORS policy"))).toBe(true)
      expect(await requestsFor(visitor)).toBe("0")
      await shot(page, "7-refused-origin-1024")
    } finally {
      await stranger.close()
    }
  })

  it("runs on the demo page, where the visitor reads the code from the simulator's texts on the page", async () => {
    const visitor = freshNumber()
    const { page, problems } = await open(`${app.baseUrl}/demo`)
    await page.getByLabel("Mobile number").waitFor()
    await shot(page, "8-demo-1024")
    // its Sales department keeps office hours: choosing it offers times; back to the business's own line for this request
    await page.getByLabel("Topic").selectOption({ label: "Sales" })
    await page.getByLabel("When should we call?").waitFor()
    await shot(page, "8-demo-sales-1024")
    await page.getByLabel("Topic").selectOption("")
    await page.getByLabel("When should we call?").waitFor({ state: "hidden" })
    await page.getByLabel("Mobile number").fill(visitor)
    await page.getByRole("button", { name: "Call me back" }).click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    const text = page.locator("#texts li").filter({ hasText: visitor })
    await text.first().waitFor({ timeout: 10_000 })
    const code = /code is (\d{6})/.exec((await text.first().textContent()) ?? "")?.[1] ?? ""
    expect(code).toMatch(/^\d{6}$/)
    await page.getByLabel("Code", { exact: true }).fill(code)
    await page.getByRole("button", { name: "Confirm" }).click()
    await waitForStatus(page, /Completed/)
    await page.locator("#events li").filter({ hasText: "callback.completed (completed)" }).waitFor()
    await shot(page, "9-demo-completed-1024")
    await page.setViewportSize(NARROW)
    await shot(page, "9-demo-completed-320")
    expect(problems).toEqual([])
  })
})
