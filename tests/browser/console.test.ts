/**
 * The operator console in a real browser (Debian's Chromium, driven by
 * playwright-core) against the whole app: signing in (and a wrong password),
 * every page free of console errors, CSP violations and serious axe-core
 * findings, at desktop width and at 360 px; a failing callback arriving live
 * on the overview and in the dead letters; a queue paused from the console
 * holding its jobs in two processes until it is resumed; a cron run now
 * leaving its schedule as it was; and the read-only role, whose buttons are
 * disabled and whose posts the server refuses. Screenshots go to
 * tests/browser/screenshots/ (the README's come from here).
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Effect from "effect/Effect"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Operators } from "../../infra/console/Operators.ts"
import { ADMIN_TOKEN } from "../support/app.ts"
import { type CallbackApp, startCallbackApp } from "../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../support/database.ts"
import { launchChromium, shot, watch } from "./support.ts"

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")
const DESKTOP = { width: 1280, height: 900 }
const NARROW = { width: 360, height: 740 }

interface AxeResult {
  readonly violations: ReadonlyArray<{ readonly id: string; readonly impact: string | null; readonly nodes: ReadonlyArray<{ readonly target: ReadonlyArray<string> }> }>
}

describe("the operator console in Chromium", () => {
  let app: CallbackApp
  let other: CallbackApp
  let databaseUrl: string
  let browser: Browser
  const contexts: Array<BrowserContext> = []

  const open = async (viewport = DESKTOP): Promise<{ page: Page; problems: Array<string> }> => {
    const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Europe/Paris" })
    contexts.push(context)
    const page = await context.newPage()
    const { problems } = await watch(page)
    return { page, problems }
  }

  const signIn = async (page: Page, name: string, password: string) => {
    await page.goto(`${app.baseUrl}/admin`)
    await page.getByLabel("Account").fill(name)
    await page.getByLabel("Password or admin token").fill(password)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.waitForLoadState("load")
  }

  /** axe-core's serious and critical findings on the page (its source is evaluated over the DevTools protocol: the page's CSP stays as it is). */
  const seriousFindings = async (page: Page) => {
    await page.evaluate(AXE)
    const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<AxeResult> } }).axe.run())
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)
  }

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
    for (const context of contexts) await context.close()
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
        expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth), path).toBeLessThanOrEqual(viewport.width)
        // times are shown in the operator's zone, with UTC on hover
        const time = page.locator("time").first()
        if ((await time.count()) > 0) expect(await time.getAttribute("title")).toMatch(/UTC$/)
      }
      expect(problems, `at ${viewport.width} px`).toEqual([])
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
})
