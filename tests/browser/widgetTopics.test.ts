/**
 * The widget's topics and call windows in Chromium: for a business with a
 * department, the visitor (in Berlin, en-GB) picks the department as the
 * topic and one of its next open windows, shown in their own time zone, and
 * the request is created with both; a window the server no longer accepts is
 * said under the field and the list is refreshed from the server's
 * `nextWindows`; when the topics and availability calls fail, the form still
 * works (as soon as possible, the business's own line); a business without
 * departments (and always open) gets the form unchanged. Screenshots go to
 * tests/browser/screenshots/ (widget-topics-*).
 */
import type { Browser, BrowserContext, Page, Route } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase, query } from "../support/database.ts"
import { focused, launchChromium, type PageGlobals, shot, startShop, waitForStatus, watch } from "./support.ts"

const DESKTOP = { width: 1024, height: 768 }
const NARROW = { width: 320, height: 640 }
const VISITOR = { locale: "en-GB", timezoneId: "Europe/Berlin" }
/** Billing answers one hour a day (in the business's zone, UTC): every window is in the future or short. */
const BILLING_HOURS = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => [day, [["09:00", "10:00"]]]))

interface Window {
  readonly start: string
  readonly end: string
}

/** The label the widget should give a window, as Intl in the visitor's locale and zone writes it (spaces normalised). */
const labelOf = (window: Window) =>
  new Intl.DateTimeFormat(VISITOR.locale, { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit", timeZone: VISITOR.timezoneId })
    .formatRange(new Date(window.start), new Date(window.end))
    .replace(/\s/g, " ")

describe("the widget's topics and call windows in Chromium", () => {
  let app: CallbackApp
  let databaseUrl: string
  let browser: Browser
  let shop: Awaited<ReturnType<typeof startShop>>
  let dental: { id: string; key: string }
  const contexts: Array<BrowserContext> = []

  const keyFor = async (businessId: string) => {
    const issued = await app.request(`/admin/api/businesses/${businessId}/keys`, { method: "POST", admin: true, body: JSON.stringify({ kind: "publishable" }) })
    expect(issued.status).toBe(201)
    return ((await issued.json()) as { key: string }).key
  }

  const open = async (url: string, routes?: (page: Page) => Promise<void>, phoneLabel = "Mobile number") => {
    const context = await browser.newContext({ viewport: DESKTOP, ...VISITOR })
    contexts.push(context)
    const page = await context.newPage()
    const { problems } = await watch(page)
    if (routes !== undefined) await routes(page)
    await page.goto(url)
    await page.getByLabel(phoneLabel).waitFor()
    return { page, problems }
  }

  /** The options of a select in the widget, as [value, label]. */
  const options = (page: Page, id: string) =>
    page.locator(`switchboard-callback select#${id} option`).evaluateAll((all) => all.map((option) => [(option as unknown as { value: string }).value, (option.textContent ?? "").replace(/\s/g, " ")] as const))

  /** The request created for `phone`, as an operator sees it. */
  const requestOf = async (phone: string) => {
    const id = await idOf(phone)
    const response = await app.request(`/admin/api/callbacks/${id}`, { admin: true })
    expect(response.status).toBe(200)
    return (await response.json()) as { department: string; window?: Window; status: string }
  }

  const idOf = async (phone: string) => (await query<{ id: string }>(databaseUrl, "SELECT id FROM callback_requests WHERE phone = $1", [phone]))[0]?.id ?? ""

  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl })
    browser = await launchChromium()
    shop = await startShop(app.baseUrl)
    const business = await app.createBusiness({ name: "Harbour Dental", country: "US", allowedOrigins: [shop.origin] })
    const department = await app.request(`/admin/api/businesses/${business.id}/departments/billing`, {
      method: "PUT",
      admin: true,
      body: JSON.stringify({ name: "Billing", phone: freshNumber(), maxConcurrentCalls: 1, hours: BILLING_HOURS })
    })
    expect(department.status).toBe(201)
    dental = { id: business.id, key: await keyFor(business.id) }
  })

  afterAll(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await shop?.close()
    await app?.dispose()
  })

  it("lets the visitor pick a department and one of its windows, in their own time zone, and creates the request with both", async () => {
    const { page, problems } = await open(shop.page("topics", { key: dental.key }))
    const topic = page.getByLabel("Topic")
    await topic.waitFor()
    expect(await options(page, "topic")).toEqual([["", "General enquiries"], ["billing", "Billing"]])
    // the business itself is always open: nothing to choose but "as soon as possible", so no choice is shown
    expect(await page.getByLabel("When should we call?").isVisible()).toBe(false)
    await shot(page, "widget-topics-1-form-1024")

    // Billing keeps hours: its next windows are offered, after "as soon as possible"
    await topic.selectOption({ label: "Billing" })
    const when = page.getByLabel("When should we call?")
    await when.waitFor()
    const offered = await options(page, "when")
    expect(offered[0]).toEqual(["", "As soon as possible"])
    expect(await when.inputValue()).toBe("")
    const windows = offered.slice(1).map(([value]) => {
      const [start = "", end = ""] = value.split("/")
      return { start, end }
    })
    expect(windows.length).toBeGreaterThanOrEqual(4)
    // Billing opens at 09:00 UTC: 10:00 (or 11:00 in summer) in Berlin, written the British way ("Tue 8 Dec, 10:00–11:00")
    for (const [i, window] of windows.entries()) {
      expect(offered[i + 1]?.[1]).toBe(labelOf(window))
      expect(offered[i + 1]?.[1]).toMatch(/^[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}, 1[01]:00–1[12]:00$/)
    }
    expect(await page.locator("switchboard-callback #when-hint").textContent()).toBe("Times are in your time zone (Central European Time).")
    expect(await when.getAttribute("aria-describedby")).toBe("when-hint when-error")

    // a native select's list is a popup no screenshot shows: opened out as a list box for one picture
    await when.evaluate((select, rows) => ((select as unknown as { size: number }).size = rows), offered.length)
    await shot(page, "widget-topics-2-windows-list-1024")
    await when.evaluate((select) => ((select as unknown as { size: number }).size = 0))

    const chosen = windows[1] ?? { start: "", end: "" }
    await when.selectOption(`${chosen.start}/${chosen.end}`)
    const visitor = freshNumber()
    await page.getByLabel("Mobile number").fill(visitor)
    await page.getByLabel("Name (optional)").fill("Ada")
    await shot(page, "widget-topics-2-window-1024")
    await page.setViewportSize(NARROW)
    await shot(page, "widget-topics-2-window-320")
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(NARROW.width)
    await page.setViewportSize(DESKTOP)

    await page.getByRole("button", { name: "Call me back" }).click()
    const code = page.getByLabel("Code", { exact: true })
    await code.waitFor()
    const created = await requestOf(visitor)
    expect(created.department).toBe("billing")
    expect(created.window && { start: new Date(created.window.start).getTime(), end: new Date(created.window.end).getTime() }).toEqual({
      start: new Date(chosen.start).getTime(),
      end: new Date(chosen.end).getTime()
    })

    // verified, it is booked for the window's start (not "closed now")
    await code.fill(await app.codeFor(visitor))
    await page.getByRole("button", { name: "Confirm" }).click()
    const booked = await waitForStatus(page, "Thanks! Harbour Dental will call you at")
    expect(booked).toMatch(/^Thanks! Harbour Dental will call you at [A-Z][a-z]{2} 1[01]:00\.$/)
    await shot(page, "widget-topics-3-booked-1024")
    expect(problems).toEqual([])
  })

  it("says when the chosen window is no longer available, and offers the server's next windows instead", async () => {
    const tomorrow = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 10)
    const closed = { start: `${tomorrow}T03:00:00.000Z`, end: `${tomorrow}T04:00:00.000Z` } // Billing is closed then
    // the page's availability for Billing carries a stale window first (as if the hours changed since it loaded)
    const stale = async (page: Page) => {
      await page.route(
        (url) => url.pathname === "/v1/availability" && url.searchParams.get("topic") === "billing",
        async (route: Route) => {
          const response = await route.fetch()
          const body = (await response.json()) as { timezone: string; windows: Array<Window> }
          await route.fulfill({ response, json: { ...body, windows: [closed, ...body.windows] } })
        }
      )
    }
    const { page, problems } = await open(shop.page("stale", { key: dental.key }), stale)
    await page.getByLabel("Topic").selectOption("billing")
    const when = page.getByLabel("When should we call?")
    await when.waitFor()
    await when.selectOption(`${closed.start}/${closed.end}`)
    const visitor = freshNumber()
    await page.getByLabel("Mobile number").fill(visitor)
    await page.getByRole("button", { name: "Call me back" }).click()

    const error = page.locator("switchboard-callback #when-error")
    await error.filter({ hasText: "That time is no longer available. Choose another time." }).waitFor()
    expect(await when.getAttribute("aria-invalid")).toBe("true")
    expect(await focused(page)).toBe("select#when")
    const offered = await options(page, "when")
    expect(offered[0]).toEqual(["", "As soon as possible"])
    expect(offered.map(([value]) => value)).not.toContain(`${closed.start}/${closed.end}`)
    expect(offered.length).toBeGreaterThanOrEqual(5)
    expect(await when.inputValue()).toBe("")
    expect(await idOf(visitor)).toBe("")
    await shot(page, "widget-topics-4-window-unavailable-1024")

    // choosing again clears the error, and the request goes out
    const next = offered[1]?.[0] ?? ""
    await when.selectOption(next)
    expect(await error.textContent()).toBe("")
    expect(await when.getAttribute("aria-invalid")).toBeNull()
    await page.getByRole("button", { name: "Call me back" }).click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    const created = await requestOf(visitor)
    expect(created.department).toBe("billing")
    expect(created.window && `${new Date(created.window.start).toISOString()}/${new Date(created.window.end).toISOString()}`).toBe(next)
    // the only complaint: Chromium logs the refused create's 422 as a failed load
    expect(problems).toEqual(["console.error: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"])
  })

  it("still takes a request, as soon as possible on the business's own line, when topics and availability cannot be loaded", async () => {
    const failing = async (page: Page) => {
      await page.route(
        (url) => url.pathname === "/v1/topics" || url.pathname === "/v1/availability",
        (route: Route) => route.fulfill({ status: 503, headers: { "access-control-allow-origin": shop.origin }, contentType: "application/problem+json", body: "{}" })
      )
    }
    const { page, problems } = await open(shop.page("failing", { key: dental.key }), failing)
    expect(await page.getByRole("combobox").count()).toBe(0)
    const visitor = freshNumber()
    await page.getByLabel("Mobile number").fill(visitor)
    await page.getByRole("button", { name: "Call me back" }).click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    const created = await requestOf(visitor)
    expect(created.department).toBe("main")
    expect(created.window).toBeUndefined()
    expect(problems).toEqual(Array.from({ length: 2 }, () => "console.error: Failed to load resource: the server responded with a status of 503 (Service Unavailable)"))
  })

  it("speaks the page's language in its choices, dates included", async () => {
    const { page, problems } = await open(shop.page("german", { key: dental.key, lang: "de-DE", bodyClass: "themed" }), undefined, "Handynummer")
    await page.getByLabel("Thema").selectOption({ label: "Billing" })
    const when = page.getByLabel("Wann sollen wir anrufen?")
    await when.waitFor()
    const offered = await options(page, "when")
    expect(offered[0]?.[1]).toBe("So bald wie möglich")
    expect(offered[1]?.[1]).toMatch(/^[A-Z][a-z]\., \d{1,2}\. [A-Z][a-zä]{2}\.?, 1[01]:00–1[12]:00 Uhr$/) // "Di., 8. Dez., 10:00–11:00 Uhr"
    expect(await options(page, "topic")).toEqual([["", "Allgemeine Anfragen"], ["billing", "Billing"]])
    expect(await page.locator("switchboard-callback #when-hint").textContent()).toBe("Zeiten in Ihrer Zeitzone (Mitteleuropäische Zeit).")
    await shot(page, "widget-topics-6-german-themed-1024")
    expect(problems).toEqual([])
  })

  it("shows a business without departments (always open) the form unchanged: no topic, no time to choose", async () => {
    const plain = await app.createBusiness({ name: "Acme Plumbing", country: "US", allowedOrigins: [shop.origin] })
    const { page, problems } = await open(shop.page("no-topics", { key: await keyFor(plain.id) }))
    expect(await page.getByRole("combobox").count()).toBe(0)
    expect(await page.locator("switchboard-callback select").count()).toBe(2) // built, hidden
    expect(await page.getByLabel("Topic").isVisible()).toBe(false)
    expect(await page.getByLabel("When should we call?").isVisible()).toBe(false)
    // the keyboard goes from the name straight to the note, as before
    await page.getByLabel("Name (optional)").focus()
    await page.keyboard.press("Tab")
    expect(await focused(page)).toBe("textarea#note")
    await shot(page, "widget-topics-5-no-topics-1024")
    expect(problems).toEqual([])
  })
})
