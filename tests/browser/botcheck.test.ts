/**
 * The widget's bot check in Chromium (docs/widget.md "Bot check"): a business
 * with Turnstile (or hCaptcha) whose siteverify is the local double
 * (tests/support/siteverify.ts), and the provider's script served by a fake
 * (challenges.ts) under the page CSP the docs give. The submit waits for a
 * token and sends it; the server checks it once with the business's secret; a
 * token the provider never issued is refused, creates and texts nothing, and
 * the challenge is reset for a new one. Also: the compact size at 320 px, one
 * hCaptcha script for two widgets, a script that cannot load, a bot check
 * turned on after the page loaded, and nothing loaded without one.
 * Screenshots go to tests/browser/screenshots/ (git-ignored).
 */
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase, query } from "../support/database.ts"
import { type Siteverify, startSiteverify } from "../support/siteverify.ts"
import { type ChallengeGlobals, type ChallengeLog, type ChallengeOptions, routeChallenges } from "./challenges.ts"
import { launchChromium, type PageGlobals, shot, type ShopPage, startShop, waitForStatus, watch } from "./support.ts"

const DESKTOP = { width: 1024, height: 768 }
/** 320 px wide, and tall enough for the whole form: Chromium leaves a cross-origin frame below the fold blank in a full-page screenshot. */
const NARROW = { width: 320, height: 960 }
const TURNSTILE_CSP = { sources: "https://challenges.cloudflare.com", trustedTypes: "switchboard-callback" }
const HCAPTCHA_CSP = { sources: "https://hcaptcha.com https://*.hcaptcha.com", trustedTypes: "switchboard-callback" }

/** The national form of a fresh US number. */
const national = (e164: string) => `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`

/** A token the test hands out later (`give`), for a challenge that is still being solved. */
const later = () => {
  let give: (token: string) => void = () => undefined
  const token = new Promise<string>((resolve) => (give = resolve))
  return { token, give }
}

/** Hands out `tokens` in order, then none. */
const inTurn = (...tokens: Array<string | Promise<string>>): ChallengeOptions["tokens"] => () => Promise.resolve(tokens.shift())

describe("the widget's bot check in Chromium", () => {
  let app: CallbackApp
  let databaseUrl: string
  let browser: Browser
  let shop: Awaited<ReturnType<typeof startShop>>
  let siteverify: Siteverify
  let hostname: string
  const contexts: Array<BrowserContext> = []

  const open = async (page: ShopPage & { readonly name: string }, challenges: ChallengeOptions, viewport = DESKTOP) => {
    const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC" })
    contexts.push(context)
    const { scripts } = await routeChallenges(context, challenges)
    const tab = await context.newPage()
    const { problems } = await watch(tab)
    await tab.goto(shop.page(page.name, page))
    return { page: tab, problems, scripts }
  }

  /** The challenge's frame in the `n`-th widget, once it shows `text`. */
  const challengeShows = (page: Page, text: string, n = 0) =>
    page.locator("switchboard-callback").nth(n).locator("[slot=challenge] > iframe").contentFrame().getByText(text).waitFor()

  const challengeLog = (page: Page): Promise<ChallengeLog | undefined> => page.evaluate(() => (globalThis as unknown as ChallengeGlobals).__challenges)
  const requestsFor = async (phone: string) => (await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM callback_requests WHERE phone = $1", [phone]))[0]?.n

  /** A business that allows the shop's origin, its publishable key, and its bot check when given. */
  const business = async (name: string, botCheck?: { provider: "turnstile" | "hcaptcha"; siteKey: string }) => {
    const created = await app.createBusiness({ name, country: "US", allowedOrigins: [shop.origin] })
    const issued = await app.request(`/admin/api/businesses/${created.id}/keys`, { method: "POST", admin: true, body: JSON.stringify({ kind: "publishable" }) })
    expect(issued.status).toBe(201)
    if (botCheck !== undefined) {
      const set = await app.request(`/admin/api/businesses/${created.id}/bot-check`, {
        method: "PUT",
        admin: true,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...botCheck, secret: siteverify.secret })
      })
      expect(set.status, await set.clone().text()).toBe(200)
    }
    return { ...created, key: ((await issued.json()) as { key: string }).key }
  }

  let acme: Awaited<ReturnType<typeof business>>
  let bistro: Awaited<ReturnType<typeof business>>
  const ACME_SITE_KEY = "0x4AAAAAAAtest-turnstile"
  const BISTRO_SITE_KEY = "10000000-ffff-ffff-ffff-000000000001"

  beforeAll(async () => {
    siteverify = await startSiteverify()
    databaseUrl = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl, env: { BOT_CHECK_TURNSTILE_URL: siteverify.url, BOT_CHECK_HCAPTCHA_URL: siteverify.url } })
    browser = await launchChromium()
    shop = await startShop(app.baseUrl)
    hostname = new URL(shop.origin).hostname
    acme = await business("Acme Plumbing", { provider: "turnstile", siteKey: ACME_SITE_KEY })
    bistro = await business("Bistro", { provider: "hcaptcha", siteKey: BISTRO_SITE_KEY })
  })

  afterAll(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await shop?.close()
    await app?.dispose()
    await siteverify?.close()
  })

  it("renders Turnstile in a slotted light-DOM child, waits for its token, sends it once, and the visitor gets to completed", async () => {
    await app.script(acme.phone, "answered", { afterMs: 200, talkMs: 300 })
    const visitor = freshNumber()
    const solved = later()
    const asked = siteverify.requests.length
    const { page, problems, scripts } = await open({ name: "turnstile", key: acme.key, challenge: TURNSTILE_CSP }, { tokens: () => solved.token })
    const phone = page.getByLabel("Mobile number")
    await phone.waitFor()
    const submit = page.getByRole("button", { name: "Call me back" })
    await challengeShows(page, "Verifying…")

    // the provider's script once, with explicit rendering, rendered into the element's light DOM and shown through the slot
    expect(scripts).toEqual(["https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit"])
    const [render] = (await challengeLog(page))?.renders ?? []
    expect(render).toEqual({
      id: "turnstile-1",
      provider: "turnstile",
      sitekey: ACME_SITE_KEY,
      size: "normal",
      language: "en",
      slot: "challenge",
      parent: "switchboard-callback",
      inLightDom: true,
      callbacks: ["callback", "expired-callback", "error-callback"]
    })
    expect(await page.locator("switchboard-callback").locator("slot[name=challenge]").count()).toBe(1)

    // no token yet: the button rests, described by the hint; Enter queues the request and the button says so
    expect(await submit.getAttribute("aria-disabled")).toBe("true")
    expect(await submit.getAttribute("aria-describedby")).toBe("challenge-hint")
    expect(await page.locator("switchboard-callback #challenge-hint").textContent()).toBe("Complete the security check to continue.")
    await shot(page, "10-botcheck-form-1024")
    await phone.fill(national(visitor))
    await phone.press("Enter")
    await page.getByRole("button", { name: "Waiting for the security check…" }).waitFor()
    expect(await requestsFor(visitor)).toBe("0")
    await shot(page, "10-botcheck-waiting-1024")

    // the challenge is solved: the queued request goes with the token
    const token = siteverify.issue(hostname)
    solved.give(token)
    const code = page.getByLabel("Code", { exact: true })
    await code.waitFor()
    expect(await requestsFor(visitor)).toBe("1")
    const checks = siteverify.requests.slice(asked)
    expect(checks).toHaveLength(1)
    expect(checks[0]).toMatchObject({ secret: siteverify.secret, response: token })

    await code.fill(await app.codeFor(visitor))
    await page.getByRole("button", { name: "Confirm" }).click()
    await waitForStatus(page, "Completed")
    expect(siteverify.requests.slice(asked)).toHaveLength(1) // verifying the code asks the provider nothing
    expect(problems).toEqual([])
  })

  it("fits the challenge into a 320 px screen (the provider's compact size)", async () => {
    const { page, problems } = await open({ name: "turnstile-narrow", key: acme.key, challenge: TURNSTILE_CSP }, { tokens: inTurn(siteverify.issue(hostname)) }, NARROW)
    await page.getByRole("button", { name: "Call me back" }).and(page.locator("[aria-disabled=false]")).waitFor()
    await challengeShows(page, "Success!")
    expect((await challengeLog(page))?.renders[0]?.size).toBe("compact")
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(NARROW.width)
    await shot(page, "10-botcheck-form-320")
    expect(problems).toEqual([])
  })

  it("refuses a token the provider never issued: the visitor is told, nothing is created or texted, and the challenge is reset for a new token", async () => {
    const visitor = freshNumber()
    const second = later()
    const asked = siteverify.requests.length
    const { page, problems } = await open({ name: "turnstile-refused", key: acme.key, challenge: TURNSTILE_CSP }, { tokens: inTurn("tok_never-issued-by-the-provider", second.token) })
    const submit = page.getByRole("button", { name: "Call me back" })
    await submit.and(page.locator("[aria-disabled=false]")).waitFor()
    await page.getByLabel("Mobile number").fill(visitor)
    await submit.click()

    const error = page.locator("switchboard-callback [role=alert]").filter({ hasText: "We couldn't confirm you're not a robot. Please complete the security check again." })
    await error.waitFor()
    expect(siteverify.requests.slice(asked)).toEqual([expect.objectContaining({ secret: siteverify.secret, response: "tok_never-issued-by-the-provider" })])
    expect(await requestsFor(visitor)).toBe("0")
    expect(await app.messagesTo(visitor)).toEqual([])
    expect((await challengeLog(page))?.resets).toEqual(["turnstile-1"])
    expect(await submit.getAttribute("aria-disabled")).toBe("true") // until the new challenge is solved
    await challengeShows(page, "Verifying…")
    await shot(page, "11-botcheck-refused-1024")

    // the reset challenge is solved again: this time the request goes through
    second.give(siteverify.issue(hostname))
    await submit.and(page.locator("[aria-disabled=false]")).waitFor()
    await challengeShows(page, "Success!")
    await shot(page, "11-botcheck-solved-again-1024")
    await submit.click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    expect(await requestsFor(visitor)).toBe("1")
    // the only complaint: Chromium logs the refused create's 403 as a failed load
    expect(problems).toEqual(["console.error: Failed to load resource: the server responded with a status of 403 (Forbidden)"])
  })

  it("loads hCaptcha's script once for two widgets on one page, each with its own challenge", async () => {
    const visitor = freshNumber()
    const { page, problems, scripts } = await open(
      { name: "hcaptcha-two", key: bistro.key, challenge: HCAPTCHA_CSP, copies: 2 },
      { tokens: () => Promise.resolve(siteverify.issue(hostname)) }
    )
    const widgets = page.locator("switchboard-callback")
    await challengeShows(page, "Success!", 0)
    await challengeShows(page, "Success!", 1)
    expect(scripts).toEqual(["https://js.hcaptcha.com/1/api.js?render=explicit&recaptchacompat=off&onload=switchboardHcaptchaLoaded"])
    const log = await challengeLog(page)
    expect(log?.renders.map((r) => [r.id, r.sitekey, r.language, r.slot, r.inLightDom])).toEqual([
      ["hcaptcha-1", BISTRO_SITE_KEY, "en", "challenge", true],
      ["hcaptcha-2", BISTRO_SITE_KEY, "en", "challenge", true]
    ])
    expect(await widgets.nth(0).locator("[slot=challenge]").count()).toBe(1)
    expect(await widgets.nth(1).locator("[slot=challenge]").count()).toBe(1)

    const second = widgets.nth(1)
    await second.getByRole("button", { name: "Call me back" }).and(page.locator("[aria-disabled=false]")).waitFor()
    await second.getByLabel("Mobile number").fill(visitor)
    await second.getByRole("button", { name: "Call me back" }).click()
    await second.getByLabel("Code", { exact: true }).waitFor()
    expect(await requestsFor(visitor)).toBe("1")
    expect(await widgets.nth(0).getByLabel("Mobile number").isVisible()).toBe(true)
    expect(problems).toEqual([])
  })

  it("says so, in the page's language, when the provider's script cannot load, and sends nothing", async () => {
    const visitor = freshNumber()
    const { page, problems, scripts } = await open({ name: "turnstile-blocked", key: acme.key, lang: "de", challenge: TURNSTILE_CSP }, { tokens: inTurn(), failScripts: true })
    const unavailable = "Die Sicherheitsprüfung funktioniert gerade nicht. Laden Sie die Seite neu, um es erneut zu versuchen."
    await page.locator("switchboard-callback [role=alert]").filter({ hasText: unavailable }).waitFor()
    expect(scripts).toHaveLength(1)
    await page.getByLabel("Handynummer").fill(visitor)
    await page.getByLabel("Handynummer").press("Enter")
    expect(await page.locator("switchboard-callback [role=alert]").textContent()).toBe(unavailable)
    expect(await page.getByRole("button", { name: "Rückruf anfordern" }).getAttribute("aria-disabled")).toBe("true")
    expect(await requestsFor(visitor)).toBe("0")
    await shot(page, "12-botcheck-unavailable-de-1024")
    // the complaints: the refused script, and the widget's own note to the site's developer
    expect(problems).toHaveLength(2)
    expect(problems.filter((p) => p.startsWith("console.error: Failed to load resource: net::ERR_CONNECTION_REFUSED"))).toHaveLength(1)
    expect(problems.filter((p) => p.startsWith("console.error: <switchboard-callback>: the bot check (turnstile) cannot start: its script did not load"))).toHaveLength(1)
  })

  it("shows the challenge when the bot check was turned on after the page loaded, once the server asks for a token", async () => {
    const late = await business("Late Plumbing")
    const visitor = freshNumber()
    const { page, problems, scripts } = await open({ name: "turnstile-late", key: late.key, challenge: TURNSTILE_CSP }, { tokens: inTurn(siteverify.issue(hostname)) })
    const submit = page.getByRole("button", { name: "Call me back" })
    await submit.and(page.locator("[aria-disabled=false]")).waitFor()
    expect(scripts).toEqual([])
    const set = await app.request(`/admin/api/businesses/${late.id}/bot-check`, {
      method: "PUT",
      admin: true,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ provider: "turnstile", siteKey: ACME_SITE_KEY, secret: siteverify.secret })
    })
    expect(set.status).toBe(200)
    await page.getByLabel("Mobile number").fill(visitor)
    await submit.click()
    await page.locator("switchboard-callback [role=alert]").filter({ hasText: "We couldn't confirm you're not a robot." }).waitFor()
    expect(await requestsFor(visitor)).toBe("0")
    // the widget learns of the bot check and renders it; solved, the request goes through
    await challengeShows(page, "Success!")
    expect(scripts).toHaveLength(1)
    await submit.and(page.locator("[aria-disabled=false]")).click()
    await page.getByLabel("Code", { exact: true }).waitFor()
    expect(await requestsFor(visitor)).toBe("1")
    expect(problems).toEqual(["console.error: Failed to load resource: the server responded with a status of 403 (Forbidden)"])
  })

  it("loads nothing for a business without a bot check", async () => {
    const plain = await business("Plain Plumbing")
    const { page, problems, scripts } = await open({ name: "plain", key: plain.key }, { tokens: inTurn() })
    await page.getByLabel("Mobile number").waitFor()
    expect(await page.getByRole("button", { name: "Call me back" }).getAttribute("aria-disabled")).toBe("false")
    expect(await page.locator("switchboard-callback [slot=challenge]").count()).toBe(0)
    expect(await page.locator("switchboard-callback .challenge").isVisible()).toBe(false)
    expect(scripts).toEqual([])
    expect(await challengeLog(page)).toBeUndefined()
    expect(problems).toEqual([])
  })
})
