/**
 * The operator console in a real browser (Debian's Chromium, driven by
 * playwright-core) against the whole app: signing in (and a wrong password),
 * every page free of console errors, CSP violations and serious axe-core
 * findings, at desktop width and at 360 px; a failing callback arriving live
 * on the overview and in the dead letters; a queue paused from the console
 * holding its jobs in two processes until it is resumed; a cron run now
 * leaving its schedule as it was; the read-only role, whose buttons are
 * disabled and whose posts the server refuses; the live stream dropping (and
 * being refused, which closes an EventSource for good) and catching up once
 * it is back, without a reload; and a keyboard-only pass (skip link, a
 * callback's retry, a queue's pause and resume) with focus always visible.
 * Screenshots go to tests/browser/screenshots/ (the README's come from here).
 */
import * as Effect from "effect/Effect"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Operators } from "../../infra/console/Operators.ts"
import { ADMIN_TOKEN } from "../support/app.ts"
import { type CallbackApp, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../support/database.ts"
import { startProxy } from "../support/proxy.ts"
import { consolePages, DESKTOP, NARROW, pageWidth, seriousFindings, signIn as signInAs } from "./consoleSupport.ts"
import { launchChromium, shot } from "./support.ts"

/** What the keyboard test reads of the focused element (the project compiles without the DOM library). */
interface FocusedElement {
  readonly tagName: string
  readonly id: string
  readonly textContent: string | null
  getAttribute(name: string): string | null
  closest(selector: string): FocusedElement | null
  matches(selector: string): boolean
  contains(other: unknown): boolean
  getBoundingClientRect(): { readonly left: number; readonly top: number; readonly right: number; readonly bottom: number }
}

interface FocusGlobals {
  readonly document: { readonly activeElement: FocusedElement | null; readonly body: FocusedElement; getElementById(id: string): FocusedElement | null }
  readonly innerWidth: number
  readonly innerHeight: number
  getComputedStyle(element: FocusedElement): { readonly outlineStyle: string; readonly outlineWidth: string; readonly boxShadow: string }
}

/** The focused element: what it is, and whether it shows a focus indicator (:focus-visible, with an outline or a shadow) inside the window. */
interface Focus {
  readonly tag: string
  readonly id: string
  readonly text: string
  readonly href: string | null
  readonly action: string | null
  readonly inMain: boolean
  readonly shown: boolean
  /** Why it is or is not shown, for the failure message. */
  readonly detail: string
}

describe("the operator console in Chromium", () => {
  let app: CallbackApp
  let other: CallbackApp
  let databaseUrl: string
  let browser: Browser
  const pages = consolePages(() => browser)
  const open = pages.open
  const signIn = (page: Page, name: string, password: string, base = app.baseUrl) => signInAs(page, base, name, password)

  const jobStates = async (ids: ReadonlyArray<string>) =>
    (await query<{ state: string }>(databaseUrl, "SELECT state FROM jobs WHERE id = ANY($1::bigint[])", [ids])).map((r) => r.state)

  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl })
    other = await startCallbackApp({ databaseUrl, env: { TWILIO_SIMULATOR_URL: app.simulatorUrl } }) // a second process on the same database and Twilio
    browser = await launchChromium()
    await app.runtime.runPromise(Effect.flatMap(Operators, (operators) => operators.upsert("viv", "viewer", "viewer password 1")))
  })

  afterAll(async () => {
    await pages.close()
    await browser?.close()
    await other?.dispose()
    await app?.dispose()
  })

  it("says so when the password is wrong, and signs in with the admin token", async () => {
    const { page, problems } = await open()
    await signIn(page, "viv", "not the password")
    await expect.poll(() => page.locator("#sign-in-error").textContent()).toContain("did not match")
    await shot(page, "console-sign-in-refused")
    await signIn(page, "", ADMIN_TOKEN)
    expect(new URL(page.url()).pathname).toBe("/admin")
    expect(await page.locator("h1").textContent()).toBe("Overview")
    expect(problems.filter((p) => !p.includes("401"))).toEqual([]) // the refused sign-in's 401 is the only console line
  })

  it("shows every page without console or CSP errors or serious accessibility findings, at 1280 px and at 360 px", async () => {
    const business = await app.createBusiness({ name: "Acme Plumbing" })
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 50 })
    const done = await app.verified(business.id)
    await app.waitForStatus(done.id, "completed")
    const [job] = await query<{ id: string }>(databaseUrl, "SELECT id FROM jobs ORDER BY id DESC LIMIT 1")
    const paths = ["/admin", "/admin/callbacks", `/admin/callbacks/${done.id}`, "/admin/jobs", `/admin/jobs/${job?.id}`, "/admin/queues", "/admin/crons", "/admin/workers", "/admin/businesses", `/admin/businesses/${business.id}`, "/admin/audit"]
    for (const viewport of [DESKTOP, NARROW]) {
      const { page, problems } = await open(viewport)
      await signIn(page, "", ADMIN_TOKEN)
      for (const path of paths) {
        const response = await page.goto(app.baseUrl + path)
        expect(response?.status(), path).toBe(200)
        expect(await seriousFindings(page), `${path} at ${viewport.width} px`).toEqual([])
        // the page itself never scrolls sideways: wide tables scroll inside their own box
        expect(await pageWidth(page), path).toBeLessThanOrEqual(viewport.width)
        // times are shown in the operator's zone, with UTC on hover
        const time = page.locator("time").first()
        if ((await time.count()) > 0) expect(await time.getAttribute("title")).toMatch(/UTC$/)
      }
      expect(problems, `at ${viewport.width} px`).toEqual([])
      // the overview's wait to the first call counts the request above; every queue's sparkline says in words what it draws
      await page.goto(`${app.baseUrl}/admin`)
      expect(Number(await page.locator("#dial-latency tbody tr").first().locator("td").first().textContent())).toBeGreaterThanOrEqual(1)
      expect(await page.locator("#dial-latency tbody tr").first().locator("td").nth(1).textContent()).toMatch(/^\d+(\.\d)? (ms|s|min|h)$/)
      expect(await page.getByRole("img", { name: /^Median wait from verification to the first call, per hour/ }).count()).toBe(1)
      await page.goto(`${app.baseUrl}/admin/queues`)
      const sparklines = page.locator("#queues svg")
      expect(await sparklines.count()).toBe(await page.locator("#queues tbody tr").count())
      for (const svg of await sparklines.all()) {
        expect(await svg.getAttribute("role")).toBe("img")
        expect(await svg.getAttribute("aria-label")).toMatch(/^[a-z0-9_.-]+: (no jobs finished|\d+ jobs? finished) in the last hour/)
      }
      // the request's jobs ran on calls and sms: their sparklines count them
      expect(await page.getByRole("img", { name: /^calls: \d+ jobs? finished in the last hour/ }).count()).toBe(1)
      await shot(page, viewport === DESKTOP ? "console-queues" : "console-queues-360")
      if (viewport === DESKTOP) {
        await page.goto(`${app.baseUrl}/admin`)
        await shot(page, "console-overview")
        await page.goto(`${app.baseUrl}/admin/callbacks/${done.id}`)
        await shot(page, "console-callback")
        await page.goto(`${app.baseUrl}/admin/jobs`)
        await shot(page, "console-jobs")
      } else {
        await page.goto(`${app.baseUrl}/admin/jobs`)
        await shot(page, "console-jobs-360")
        await page.goto(`${app.baseUrl}/admin`)
        await shot(page, "console-overview-360")
      }
    }
  })

  it("shows a failing callback live on the overview and in the dead letters, without a reload", async () => {
    const overview = await open()
    await signIn(overview.page, "", ADMIN_TOKEN)
    await overview.page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset["live"] === "open")
    const before = Number(await overview.page.locator("#dead-callbacks").textContent())
    const dead = await open()
    await signIn(dead.page, "", ADMIN_TOKEN)
    await dead.page.goto(`${app.baseUrl}/admin/callbacks?status=failed`)
    await dead.page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset["live"] === "open")
    // a marker that a reload would wipe
    for (const page of [overview.page, dead.page]) await page.evaluate(() => ((globalThis as unknown as { __kept: boolean }).__kept = true))

    const business = await app.createBusiness({ name: "Never Answers Ltd" })
    await app.script(business.phone, "failed", { afterMs: 50 })
    const failing = await app.verified(business.id)
    await app.waitForStatus(failing.id, "failed")

    await expect.poll(async () => Number(await overview.page.locator("#dead-callbacks").textContent()), { timeout: 15_000 }).toBe(before + 1)
    await expect.poll(() => dead.page.locator("#callbacks").textContent(), { timeout: 15_000 }).toContain(failing.phone)
    for (const page of [overview.page, dead.page]) expect(await page.evaluate(() => (globalThis as unknown as { __kept?: boolean }).__kept)).toBe(true)
    await shot(dead.page, "console-dead-letters")
    // its verification text and its call were counted against the account's budgets, and the overview says so
    const used = async (channel: string) =>
      Number(await overview.page.locator("#budgets tbody tr", { has: overview.page.getByRole("rowheader", { name: channel }) }).first().locator("td").nth(1).textContent())
    await expect.poll(() => used("texts")).toBeGreaterThanOrEqual(1)
    await expect.poll(() => used("calls")).toBeGreaterThanOrEqual(1)
    expect([...overview.problems, ...dead.problems]).toEqual([])
  })

  it("pauses a queue: no job of it starts in either process until it is resumed", async () => {
    const { page, problems } = await open()
    await signIn(page, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/queues`)
    page.once("dialog", (dialog) => void dialog.accept())
    await page.locator("tr", { has: page.getByRole("rowheader", { name: "default" }) }).getByRole("button", { name: "Pause" }).click()
    await page.waitForURL(/notice=/)
    expect(await page.locator("tr", { has: page.getByRole("rowheader", { name: "default" }) }).textContent()).toContain("paused")

    const ids: Array<string> = []
    for (let i = 0; i < 6; i++) {
      const target = i % 2 === 0 ? app : other
      const response = await target.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "diagnostics.ping", args: { message: `paused ${i}` } }) })
      expect(response.status).toBe(201)
      ids.push(((await response.json()) as { id: string }).id)
    }
    // both processes poll at least every second: three seconds of nothing starting is the pause holding, not luck
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    expect(await jobStates(ids)).toEqual(ids.map(() => "available"))
    expect(Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM jobs WHERE id = ANY($1::bigint[]) AND attempt > 0", [ids]))[0]?.n)).toBe(0)

    await page.locator("tr", { has: page.getByRole("rowheader", { name: "default" }) }).getByRole("button", { name: "Resume" }).click()
    await page.waitForURL(/notice=/)
    await eventually(async () => ((await jobStates(ids)).every((s) => s === "completed") ? true : undefined), 15_000, "the paused jobs to complete after the resume")
    const audit = await query<{ action: string; operator: string; via: string }>(databaseUrl, "SELECT action, operator, via FROM operator_audit WHERE target = 'queue:default' ORDER BY id")
    expect(audit.map((a) => [a.action, a.operator, a.via])).toEqual([
      ["pauseQueue", "admin-token", "console"],
      ["resumeQueue", "admin-token", "console"]
    ])
    expect(problems).toEqual([])
  })

  it("runs a cron now without moving its next run", async () => {
    const { page, problems } = await open()
    await signIn(page, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/crons`)
    const row = page.locator("tr", { has: page.getByRole("rowheader", { name: "report.daily" }) })
    const next = await row.locator("time").first().getAttribute("datetime")
    await row.getByRole("button", { name: "Run now" }).click()
    await page.waitForURL(/\/admin\/jobs\/\d+\?notice=/)
    const jobId = /\/admin\/jobs\/(\d+)/.exec(page.url())?.[1] ?? ""
    const [job] = await query<{ kind: string; unique_key: string }>(databaseUrl, "SELECT kind, unique_key FROM jobs WHERE id = $1", [jobId])
    expect(job?.kind).toBe("report.daily")
    expect(job?.unique_key).toMatch(/^cron:report\.daily:manual:/)
    await page.goto(`${app.baseUrl}/admin/crons`)
    expect(await row.locator("time").first().getAttribute("datetime")).toBe(next)
    expect(problems).toEqual([])
  })

  it("retries all 500 dead jobs a filter matches, after confirming the count, and they complete", async () => {
    await query(
      databaseUrl,
      `INSERT INTO jobs (queue, kind, args, state, attempt, max_attempts, run_at, finished_at, errors)
       SELECT 'default', 'diagnostics.ping', jsonb_build_object('message', 'dead ' || n), 'discarded', 3, 3, now(), now(),
              '[{"attempt":3,"at":"2026-01-01T00:00:00.000Z","kind":"retryable","message":"gave up"}]'::jsonb
         FROM generate_series(1, 500) AS n`
    )
    const dead = async () => Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM jobs WHERE kind = 'diagnostics.ping' AND args->>'message' LIKE 'dead %' AND state <> 'completed'"))[0]?.n)
    expect(await dead()).toBe(500)
    const { page, problems } = await open()
    await signIn(page, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/jobs?state=discarded&kind=diagnostics.ping&q=dead`)
    const everything = page.getByRole("form", { name: "Act on every job this filter matches" })
    await everything.getByRole("combobox").selectOption("retry")
    await everything.getByRole("button", { name: "Review…" }).click()
    await expect.poll(() => page.locator("#bulk-summary").textContent()).toContain("Retry 500 jobs matching state discarded, kind diagnostics.ping")
    await shot(page, "console-bulk-review")
    await page.getByRole("button", { name: "Retry 500 jobs" }).click()
    await page.waitForURL(/\/admin\/bulk\/[0-9a-f-]{36}/)
    // the page follows the operation until it has finished, without a reload
    await expect.poll(() => page.locator("#bulk-changed").textContent(), { timeout: 30_000 }).toBe("500 changed")
    await expect.poll(() => page.locator("#bulk-progress").getAttribute("data-finished")).toBe("yes")
    await eventually(async () => ((await dead()) === 0 ? true : undefined), 60_000, "the 500 retried jobs to complete")
    await shot(page, "console-bulk-done")
    const [audit] = await query<{ action: string; outcome: string; detail: { matched: number } }>(databaseUrl, "SELECT action, outcome, detail FROM operator_audit WHERE action = 'startBulkOperation' ORDER BY id DESC LIMIT 1")
    expect(audit).toMatchObject({ action: "startBulkOperation", outcome: "ok", detail: { matched: 500 } })
    expect(problems).toEqual([])
  })

  it("shows a viewer every button disabled, and refuses the posts it sends anyway", async () => {
    const { page, problems } = await open()
    await signIn(page, "viv", "viewer password 1")
    await page.goto(`${app.baseUrl}/admin/queues`)
    const buttons = page.locator("main form.action button")
    expect(await buttons.count()).toBeGreaterThan(0)
    for (const button of await buttons.all()) expect(await button.isDisabled()).toBe(true)
    // what a crafted request from the viewer's own session gets: 403, and the queue stays as it was
    const status = await page.evaluate(async () => {
      const browser = globalThis as unknown as { document: { getElementById(id: string): { dataset: Record<string, string> } | null }; fetch: typeof fetch }
      const csrf = browser.document.getElementById("main")?.dataset["csrf"] ?? ""
      const response = await browser.fetch("/admin/queues/default/pause", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `_csrf=${encodeURIComponent(csrf)}` })
      return response.status
    })
    expect(status).toBe(403)
    expect(await query(databaseUrl, "SELECT 1 FROM paused_queues WHERE queue = 'default'")).toHaveLength(0)
    await shot(page, "console-viewer")
    expect(problems.filter((p) => !p.includes("403"))).toEqual([])
  })
  /** The focused element, as the keyboard test reads it. */
  const focus = (page: Page): Promise<Focus> =>
    page.evaluate(() => {
      const browser = globalThis as unknown as FocusGlobals
      const el = browser.document.activeElement ?? browser.document.body
      const style = browser.getComputedStyle(el)
      const box = el.getBoundingClientRect()
      const ring = (style.outlineStyle !== "none" && Number.parseFloat(style.outlineWidth) > 0) || (style.boxShadow !== "none" && style.boxShadow !== "")
      return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        text: (el.getAttribute("aria-label") ?? el.textContent ?? "").trim(),
        href: el.getAttribute("href"),
        action: el.closest("form")?.getAttribute("action") ?? null,
        inMain: browser.document.getElementById("main")?.contains(el) === true,
        // a field with inner parts (a date) has focus in them: only :focus-within matches the field
        shown: el !== browser.document.body && (el.matches(":focus-visible") || el.matches("input:focus-within")) && ring && box.right > 0 && box.bottom > 0 && box.left < browser.innerWidth,
        detail: `name=${el.getAttribute("name")} type=${el.getAttribute("type")} focus-visible=${el.matches(":focus-visible")} focus=${el.matches(":focus")} within=${el.matches(":focus-within")} outline=${style.outlineStyle} ${style.outlineWidth} shadow=${style.boxShadow} box=${Math.round(box.left)},${Math.round(box.top)},${Math.round(box.right)},${Math.round(box.bottom)}`
      }
    })

  /** Presses `key` until `wanted` has focus (at most `limit` times), checking that every element it passes shows its focus. */
  const pressUntil = async (page: Page, key: "Tab" | "Shift+Tab", wanted: (f: Focus) => boolean, what: string, limit = 80): Promise<Focus> => {
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press(key)
      const now = await focus(page)
      expect(now.shown, `focus on ${now.tag} "${now.text.slice(0, 40)}" ${now.detail} (on the way to ${what}) is visible`).toBe(true)
      if (wanted(now)) return now
    }
    throw new Error(`${key} never reached ${what}`)
  }

  it("works with the keyboard alone: the skip link, a callback's retry, a queue's pause and resume, with focus always visible", async () => {
    const business = await app.createBusiness({ name: "Keys Ltd" })
    await app.script(business.phone, "failed", { afterMs: 50 })
    const request = await app.verified(business.id)
    await app.waitForStatus(request.id, "failed")

    const { page, problems } = await open()
    await page.goto(`${app.baseUrl}/admin`)
    await pressUntil(page, "Tab", (f) => f.id === "name", "the account field") // left empty: the admin token signs in alone
    await pressUntil(page, "Tab", (f) => f.id === "password", "the password field")
    await page.keyboard.type(ADMIN_TOKEN)
    await page.keyboard.press("Enter")
    await page.waitForURL(`${app.baseUrl}/admin`)

    // the first Tab reaches the skip link, shown on screen; it takes focus past the navigation into the content
    const skip = await pressUntil(page, "Tab", () => true, "the first element", 1)
    expect(skip).toMatchObject({ tag: "a", text: "Skip to content", href: "#main" })
    await page.keyboard.press("Enter")
    expect(new URL(page.url()).hash).toBe("#main")
    expect((await focus(page)).tag).toBe("main")
    expect((await pressUntil(page, "Tab", () => true, "the content's first control", 1)).inMain).toBe(true)
    // and back out of it: Shift+Tab leaves the content for the header's last control
    expect(await pressUntil(page, "Shift+Tab", () => true, "the header", 1)).toMatchObject({ tag: "button", text: "Sign out", inMain: false })

    // to the callback's page, and retry it with the space bar
    await pressUntil(page, "Shift+Tab", (f) => f.href === "/admin/callbacks", "the Callbacks link")
    await page.keyboard.press("Enter")
    await page.waitForURL(`${app.baseUrl}/admin/callbacks`)
    await pressUntil(page, "Tab", (f) => f.href === `/admin/callbacks/${request.id}`, "the failed request's link")
    await page.keyboard.press("Enter")
    await page.waitForURL(`${app.baseUrl}/admin/callbacks/${request.id}`)
    await pressUntil(page, "Tab", (f) => f.action === `/admin/callbacks/${request.id}/retry`, "the Retry button")
    await page.keyboard.press("Space")
    await page.waitForURL(/notice=/)
    expect(await query(databaseUrl, "SELECT 1 FROM callback_events WHERE callback_id = $1 AND type = 'callback.retried'", [request.id])).toHaveLength(1)

    // to the queues: pause default with Enter (the browser's own confirmation, accepted), resume it with the space bar
    await pressUntil(page, "Tab", (f) => f.href === "/admin/queues", "the Queues link")
    await page.keyboard.press("Enter")
    await page.waitForURL(`${app.baseUrl}/admin/queues`)
    page.once("dialog", (dialog) => void dialog.accept())
    await pressUntil(page, "Tab", (f) => f.action === "/admin/queues/default/pause", "default's Pause button")
    await page.keyboard.press("Enter")
    await page.waitForURL(/notice=/)
    expect(await query(databaseUrl, "SELECT 1 FROM paused_queues WHERE queue = 'default'")).toHaveLength(1)
    // past it to the next queue's link, and one step back
    await pressUntil(page, "Tab", (f) => f.tag === "a" && f.text === "sms", "the sms queue's link")
    const resume = { tag: "button", text: "Resume", action: "/admin/queues/default/resume" }
    expect(await pressUntil(page, "Shift+Tab", () => true, "default's Resume button", 1)).toMatchObject(resume)
    // the list changes under the operator's focus (two jobs wait on the paused queue; cancelling one wakes the live stream): the button keeps it
    const waiting = async () => Number(await page.locator("tr", { has: page.getByRole("rowheader", { name: "default" }) }).locator("td").nth(1).textContent())
    const before = await waiting()
    const enqueued: Array<string> = []
    for (const message of ["kept", "cancelled"]) {
      const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "diagnostics.ping", args: { message } }) })
      enqueued.push(((await response.json()) as { id: string }).id)
    }
    expect((await app.request(`/admin/api/jobs/${enqueued[1]}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    await expect.poll(waiting, { timeout: 15_000 }).toBe(before + 1)
    expect(await focus(page)).toMatchObject({ ...resume, shown: true })
    await page.keyboard.press("Space")
    await page.waitForURL(/notice=.*resumed/)
    expect(await query(databaseUrl, "SELECT 1 FROM paused_queues WHERE queue = 'default'")).toHaveLength(0)

    const audit = await query<{ action: string; target: string }>(databaseUrl, "SELECT action, target FROM operator_audit WHERE via = 'console' AND action IN ('retryCallback', 'pauseQueue', 'resumeQueue') ORDER BY operator_audit.id DESC LIMIT 3")
    expect(audit.reverse()).toEqual([
      { action: "retryCallback", target: `callback:${request.id}` },
      { action: "pauseQueue", target: "queue:default" },
      { action: "resumeQueue", target: "queue:default" }
    ])
    expect(problems).toEqual([])
  })

  it("keeps the rows an operator ticked when the list changes live", async () => {
    const enqueue = async () => {
      const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "diagnostics.ping", delaySeconds: 3600 }) })
      expect(response.status).toBe(201)
      return ((await response.json()) as { id: string }).id
    }
    const [kept, gone] = [await enqueue(), await enqueue()]
    const { page, problems } = await open()
    await signIn(page, "", ADMIN_TOKEN)
    await page.goto(`${app.baseUrl}/admin/jobs?state=scheduled&kind=diagnostics.ping`)
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset["live"])).toBe("open")
    await page.getByLabel(`select job ${kept}`).check()
    // another operator cancels the other job: the list changes under the tick
    expect((await app.request(`/admin/api/jobs/${gone}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    await expect.poll(() => page.getByLabel(`select job ${gone}`).count(), { timeout: 15_000 }).toBe(0)
    expect(await page.getByLabel(`select job ${kept}`).isChecked()).toBe(true)
    expect(problems).toEqual([])
  })

  it("says so when the live stream drops or is refused, and catches up without a reload once it is back", async () => {
    // the browser reaches the app through a proxy that can drop every connection at once
    const proxy = await startProxy(app.baseUrl)
    try {
      const base = new URL(proxy.url).origin
      const { page, problems } = await open()
      await signIn(page, "", ADMIN_TOKEN, base)
      const live = () => page.evaluate(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset["live"])
      await expect.poll(live).toBe("open")
      await page.evaluate(() => ((globalThis as unknown as { __kept: boolean }).__kept = true)) // a reload would wipe it
      const banner = page.locator("#live")
      expect(await banner.isHidden()).toBe(true)

      // while down, every new stream is answered 503 (as a process shutting down answers), which an EventSource never retries by itself
      let refused = 0
      await page.route("**/admin/live", (route) => {
        refused++
        return route.fulfill({ status: 503, headers: { "retry-after": "1", "content-type": "text/plain" }, body: "shutting down" })
      })
      proxy.cut()
      proxy.restore()
      await expect.poll(live).toBe("lost")
      await expect.poll(() => banner.isVisible()).toBe(true)
      expect(await banner.textContent()).toContain("Live updates are interrupted")
      // refused twice: the browser's own reconnect, then one of the page's fresh streams (after the first refusal the browser gives up)
      await expect.poll(() => refused, { timeout: 20_000 }).toBeGreaterThanOrEqual(2)

      // a change while the stream is down: a queue no process runs now has a discarded job
      await query(databaseUrl, "INSERT INTO jobs (queue, kind, state, finished_at) VALUES ('x-while-down', 'diagnostics.ping', 'discarded', now())")
      const row = page.getByRole("rowheader", { name: "x-while-down" })
      expect(await row.count()).toBe(0)

      await page.unroute("**/admin/live")
      await expect.poll(live, { timeout: 30_000 }).toBe("open")
      await expect.poll(() => banner.isHidden()).toBe(true)
      await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1)
      expect(await page.evaluate(() => (globalThis as unknown as { __kept?: boolean }).__kept)).toBe(true)
      await shot(page, "console-live-resumed")
      // what the browser logs of the refused streams is expected; nothing else is
      expect(problems.filter((p) => !/\/admin\/live|503|ERR_/.test(p))).toEqual([])
    } finally {
      await proxy.close()
    }
  })
})
