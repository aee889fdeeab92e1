/**
 * What the console's browser tests share: a browser context per operator (a
 * fixed locale and time zone, its problems watched), signing in through the
 * form, and axe-core's serious findings on a page.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { watch } from "./support.ts"

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")
export const DESKTOP = { width: 1280, height: 900 }
export const NARROW = { width: 360, height: 740 }

interface AxeResult {
  readonly violations: ReadonlyArray<{ readonly id: string; readonly impact: string | null; readonly nodes: ReadonlyArray<{ readonly target: ReadonlyArray<string> }> }>
}

/** Opens pages in contexts of their own, and closes them all at the end. */
export const consolePages = (browser: () => Browser) => {
  const contexts: Array<BrowserContext> = []
  const open = async (viewport = DESKTOP): Promise<{ page: Page; problems: Array<string> }> => {
    const context = await browser().newContext({ viewport, locale: "en-GB", timezoneId: "Europe/Paris" })
    contexts.push(context)
    const page = await context.newPage()
    const { problems } = await watch(page)
    return { page, problems }
  }
  const close = async () => {
    for (const context of contexts) await context.close()
  }
  return { open, close }
}

/** Signs in through the form (an empty name: the admin token). */
export const signIn = async (page: Page, baseUrl: string, name: string, password: string) => {
  await page.goto(`${baseUrl}/admin`)
  await page.getByLabel("Account").fill(name)
  await page.getByLabel("Password or admin token").fill(password)
  await page.getByRole("button", { name: "Sign in" }).click()
  await page.waitForLoadState("load")
}

/** axe-core's serious and critical findings on the page (its source is evaluated over the DevTools protocol: the page's CSP stays as it is). */
export const seriousFindings = async (page: Page) => {
  await page.evaluate(AXE)
  const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<AxeResult> } }).axe.run())
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)
}

/** Whether the page scrolls sideways (it should not: wide tables scroll in their own box). */
export const pageWidth = (page: Page): Promise<number> =>
  page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)
