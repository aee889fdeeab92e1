/**
 * What the browser tests share: Debian's Chromium driven by playwright-core
 * (never a downloaded browser), a "shop" server on its own origin that serves
 * a customer's page embedding the widget under a strict CSP, and helpers that
 * watch a page for console errors, CSP violations and the widget's status.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"

/**
 * What the functions that run inside the page (`page.evaluate`) use of the browser: the project
 * compiles without the DOM library, so they see the page through `globalThis as unknown as PageGlobals`.
 */
export interface PageElement {
  readonly id: string
  readonly tagName: string
  readonly textContent: string | null
  readonly shadowRoot: { readonly activeElement: PageElement | null; querySelector(selector: string): PageElement | null } | null
  setAttribute(name: string, value: string): void
}

export interface PageGlobals {
  readonly document: {
    readonly activeElement: PageElement | null
    readonly documentElement: { readonly scrollWidth: number }
    querySelector(selector: string): PageElement | null
    addEventListener(type: "securitypolicyviolation", listener: (event: { readonly violatedDirective: string; readonly blockedURI: string }) => void): void
  }
  readonly MutationObserver: new (callback: () => void) => { observe(target: PageElement, options: Record<string, boolean>): void }
  getComputedStyle(element: unknown): { readonly backgroundColor: string }
  __statusLog: Array<string>
  __reportViolation(text: string): void
}

export const SCREENSHOTS = path.join(import.meta.dirname, "screenshots")

/** CHROMIUM_PATH, or `chromium` on the PATH (Debian's package: apt-get install chromium). */
const chromiumPath = (): string => {
  const given = process.env.CHROMIUM_PATH
  if (given !== undefined && given !== "") return given
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim()
  } catch {
    throw new Error("no Chromium: install Debian's (apt-get install chromium) or set CHROMIUM_PATH; .ci/run installs it")
  }
}

export const launchChromium = async (): Promise<Browser> => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const executablePath = chromiumPath()
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}`)
  // playwright adds --headless and a fresh --user-data-dir; these keep Chromium off the network it cannot reach
  return chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
}

export interface ShopPage {
  readonly key: string
  /** `lang` of the page's <html>. */
  readonly lang?: string
  /** Extra attributes of the element, as HTML. */
  readonly attributes?: string
  /** A class on <body> (the shop's stylesheet themes `.themed`). */
  readonly bodyClass?: string
  /** How many widgets the page embeds (1). */
  readonly copies?: number
  /** What the page's CSP also allows for a bot check: script-src and frame-src sources, and the Trusted Types policies it may create ('none'). */
  readonly challenge?: { readonly sources: string; readonly trustedTypes: string }
}

/**
 * A customer's site on its own origin: `GET /?page=<name>` serves the page registered under that name.
 * Its CSP allows scripts and connections only to the API's origin, styles only from itself (no
 * 'unsafe-inline'), and requires Trusted Types, so a widget that used innerHTML or inline styles would fail.
 * A page with a bot check also allows the provider's scripts and frames (`challenge`), as docs/widget.md says.
 */
export const startShop = async (api: string) => {
  const pages = new Map<string, ShopPage>()
  const cspOf = (page: ShopPage) =>
    page.challenge === undefined
      ? `default-src 'none'; script-src ${api}; connect-src ${api}; style-src 'self'; img-src 'self'; require-trusted-types-for 'script'; trusted-types 'none'; base-uri 'none'`
      : `default-src 'none'; script-src ${api} ${page.challenge.sources}; frame-src ${page.challenge.sources}; connect-src ${api}; style-src 'self'; img-src 'self'; ` +
        `require-trusted-types-for 'script'; trusted-types ${page.challenge.trustedTypes}; base-uri 'none'`
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://shop")
    if (url.pathname === "/shop.css") {
      response.writeHead(200, { "content-type": "text/css" })
      response.end("body { font: 16px/1.5 sans-serif; margin: 1rem } .themed switchboard-callback { --switchboard-accent: rgb(200, 0, 100); --switchboard-radius: 0px }")
      return
    }
    const page = pages.get(url.searchParams.get("page") ?? "")
    if (url.pathname !== "/" || page === undefined) {
      response.writeHead(url.pathname === "/favicon.ico" ? 204 : 404)
      response.end()
      return
    }
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": cspOf(page) })
    response.end(`<!doctype html>
<html lang="${page.lang ?? "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A shop</title>
<link rel="stylesheet" href="/shop.css">
<script src="${api}/widget.js" async></script>
</head>
<body class="${page.bodyClass ?? ""}">
<h1>A shop</h1>
<p>Questions about your order? We call you back.</p>
${Array.from({ length: page.copies ?? 1 }, () => `<switchboard-callback key="${page.key}" ${page.attributes ?? ""}></switchboard-callback>`).join("\n")}
</body>
</html>`)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    /** Registers a page; returns its URL. */
    page: (name: string, page: ShopPage) => {
      pages.set(name, page)
      return `${origin}/?page=${name}`
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export interface Watched {
  /** Console errors and warnings, page errors, and CSP violations, as text. */
  readonly problems: Array<string>
}

/** Collects everything that went wrong on `page` (console errors/warnings, uncaught errors, CSP violations). */
export const watch = async (page: Page): Promise<Watched> => {
  const problems: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console.${message.type()}: ${message.text()}`)
  })
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
  await page.exposeFunction("__reportViolation", (text: string) => problems.push(`CSP: ${text}`))
  await page.addInitScript(() => {
    const browser = globalThis as unknown as PageGlobals
    browser.document.addEventListener("securitypolicyviolation", (event) => {
      browser.__reportViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`)
    })
  })
  return { problems }
}

/**
 * Records every text the widget's live region shows, in order, from now on (a MutationObserver in
 * the page); `statusLog(page)` reads them.
 */
export const recordStatus = (page: Page) =>
  page.evaluate(() => {
    const browser = globalThis as unknown as PageGlobals
    const element = browser.document.querySelector("switchboard-callback")
    const region = element?.shadowRoot?.querySelector('[role="status"]')
    if (!region) throw new Error("the widget has no live region")
    const log: Array<string> = []
    browser.__statusLog = log
    new browser.MutationObserver(() => {
      const text = region.textContent ?? ""
      if (text !== "" && log[log.length - 1] !== text) log.push(text)
    }).observe(region, { childList: true, characterData: true, subtree: true })
  })

export const statusLog = (page: Page): Promise<Array<string>> => page.evaluate(() => (globalThis as unknown as PageGlobals).__statusLog)

/** The live region's text, once it contains `text`. */
export const waitForStatus = async (page: Page, text: string | RegExp, timeout = 30_000) => {
  const region = page.locator("switchboard-callback [role=status]")
  await region.filter({ hasText: text }).waitFor({ timeout })
  return region.textContent()
}

/** The deepest focused element (through shadow roots), as `tag#id` or `tag:text`. */
export const focused = (page: Page): Promise<string> =>
  page.evaluate(() => {
    let active = (globalThis as unknown as PageGlobals).document.activeElement
    while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement
    if (!active) return "none"
    return active.id ? `${active.tagName.toLowerCase()}#${active.id}` : `${active.tagName.toLowerCase()}:${(active.textContent ?? "").trim()}`
  })

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true })
