/**
 * The widget over HTTP (docs/widget.md): the script's headers, caching and
 * size, its versioned URL, the bot check's script loader (in a sandbox with a
 * stand-in document), and the development demo page (its CSP, no inline
 * script, a working key for the demo business, 404 in production). What the
 * widget does in a browser is tested by tests/browser (npm run test:browser).
 */
import { Hono } from "hono"
import * as vm from "node:vm"
import { gzipSync } from "node:zlib"
import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { HttpEnv } from "../../../src/http/Handler.ts"
import { requestId } from "../../../src/http/Middleware.ts"
import { IMMUTABLE_CACHE, SHORT_CACHE, widgetRoutes } from "../../../src/http/routes/Widget.ts"
import { BOT_CHECK_JS } from "../../../src/http/widget/BotCheck.ts"
import { widgetBundle } from "../../../src/http/widget/Bundle.ts"
import { DEMO_BUSINESS_ID } from "../../../src/http/widget/DemoBusiness.ts"
import { DEMO_JS } from "../../../src/http/widget/DemoPage.ts"
import { WIDGET_TEXTS } from "../../../src/http/widget/Texts.ts"
import { type RunningApp, startApp } from "../../support/app.ts"
import { cloneDatabase, query } from "../../support/database.ts"

const KB = 1024

describe("the widget's script", () => {
  let app: RunningApp
  beforeAll(async () => {
    app = await startApp({ databaseUrl: await cloneDatabase() })
  })
  afterAll(() => app.dispose())

  it("is a classic script that defines <switchboard-callback>, short-cached, with its versioned URL and hash", async () => {
    const response = await app.request("/widget.js", { headers: { "accept-encoding": "identity" } })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(response.headers.get("cache-control")).toBe(SHORT_CACHE)
    expect(response.headers.get("etag")).toBe(`"${widgetBundle.hash}"`)
    expect(response.headers.get("content-location")).toMatch(/^\/widget\/v1\.[0-9a-f]{16}\.js$/)
    expect(response.headers.get("access-control-allow-origin")).toBe("*")
    expect(response.headers.get("cross-origin-resource-policy")).toBe("cross-origin")
    expect(response.headers.get("x-content-type-options")).toBe("nosniff")
    const source = await response.text()
    expect(source).toBe(widgetBundle.source)
    expect(createHash("sha256").update(source).digest("hex").startsWith(widgetBundle.hash)).toBe(true)
    expect(() => new vm.Script(source, { filename: "widget.js" })).not.toThrow()
    expect(source).toContain('customElements.define(TAG, SwitchboardCallback)')
    // nothing a strict CSP (no 'unsafe-eval') or Trusted Types would refuse
    for (const banned of ["eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "setAttribute(\"style\""]) expect(source).not.toContain(banned)
  })

  it("is under 20 kB gzipped, and served gzipped to clients that accept it", async () => {
    expect(gzipSync(widgetBundle.source).byteLength).toBeLessThan(20 * KB)
    const raw = await fetch(`${app.baseUrl}/widget.js`, { headers: { "accept-encoding": "gzip" } })
    expect(raw.headers.get("content-encoding")).toBe("gzip")
    expect(raw.headers.get("vary")).toContain("Accept-Encoding")
    const sent = Number(raw.headers.get("content-length"))
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThan(20 * KB)
    expect(await raw.text()).toBe(widgetBundle.source) // fetch inflates it
  })

  it("answers 304 to a revalidation with its ETag, weak or strong, either encoding's", async () => {
    for (const tag of [`"${widgetBundle.hash}"`, `W/"${widgetBundle.hash}"`, `"${widgetBundle.hash}-gzip"`, `"other", "${widgetBundle.hash}"`, "*"]) {
      const response = await app.request("/widget.js", { headers: { "if-none-match": tag } })
      expect(response.status, tag).toBe(304)
      expect(await response.text()).toBe("")
      expect(response.headers.get("cache-control")).toBe(SHORT_CACHE)
    }
    expect((await app.request("/widget.js", { headers: { "if-none-match": '"0000"' } })).status).toBe(200)
  })

  it("serves the same bytes at its versioned URL, immutable; another version is a 404", async () => {
    const location = (await app.request("/widget.js")).headers.get("content-location") ?? ""
    const response = await app.request(location, { headers: { "accept-encoding": "identity" } })
    expect(response.status).toBe(200)
    expect(response.headers.get("cache-control")).toBe(IMMUTABLE_CACHE)
    expect(await response.text()).toBe(widgetBundle.source)
    expect((await app.request(location, { headers: { "if-none-match": `"${widgetBundle.hash}"` } })).status).toBe(304)
    const old = await app.request("/widget/v1.0123456789abcdef.js")
    expect(old.status).toBe(404)
    expect(((await old.json()) as { detail: string }).detail).toContain("/widget.js")
  })

  it("ships every text in every language", () => {
    const keys = Object.keys(WIDGET_TEXTS.en ?? {}).sort()
    expect(Object.keys(WIDGET_TEXTS).sort()).toEqual(["de", "en", "es"])
    for (const [lang, texts] of Object.entries(WIDGET_TEXTS)) {
      expect(Object.keys(texts).sort(), lang).toEqual(keys)
      for (const key of keys) {
        // a translation keeps the placeholders of the English text
        const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
        expect(placeholders(texts[key as keyof typeof texts]), `${lang}.${key}`).toEqual(placeholders(WIDGET_TEXTS.en?.[key as keyof typeof texts] ?? ""))
      }
    }
  })
})

/** A page as the bot check's loader sees it: the scripts it adds are kept, never run; `trustedTypes` when the page enforces them. */
const loaderSandbox = (options: { readonly trustedTypes?: boolean } = {}) => {
  const added: Array<{ src: unknown; async?: boolean; onload?: () => void; onerror?: () => void }> = []
  const policies: Array<{ readonly name: string; readonly createScriptURL: (url: string) => string }> = []
  const window: Record<string, unknown> = {}
  const context = vm.createContext({
    window,
    setTimeout: () => 0,
    document: {
      head: { append: (script: (typeof added)[number]) => added.push(script) },
      createElement: (tag: string) => {
        if (tag !== "script") throw new Error(`unexpected element ${tag}`)
        return {}
      }
    },
    ...(options.trustedTypes === true
      ? {
          trustedTypes: {
            createPolicy: (name: string, rules: { createScriptURL: (url: string) => string }) => {
              policies.push({ name, createScriptURL: rules.createScriptURL })
              return { createScriptURL: (url: string) => ({ trusted: rules.createScriptURL(url) }) }
            }
          }
        }
      : {})
  })
  if (options.trustedTypes === true) window.trustedTypes = context.trustedTypes
  vm.runInContext(`${BOT_CHECK_JS}\nglobalThis.loadChallenge = loadChallenge`, context)
  const loadChallenge = context.loadChallenge as (provider: string) => Promise<unknown>
  return { added, policies, window, loadChallenge }
}

describe("the bot check's script loader", () => {
  it("adds the provider's script once for every widget on the page, with explicit rendering, and resolves with its API once it has run", async () => {
    const page = loaderSandbox()
    const first = page.loadChallenge("turnstile")
    const second = page.loadChallenge("turnstile")
    expect(page.added).toHaveLength(1)
    expect(page.added[0]?.src).toBe("https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit")
    expect(page.added[0]?.async).toBe(true)
    const turnstile = { render: () => "w1", reset: () => undefined }
    page.window.turnstile = turnstile
    page.added[0]?.onload?.()
    expect(await first).toBe(turnstile)
    expect(await second).toBe(turnstile)
    expect(await page.loadChallenge("turnstile")).toBe(turnstile)
    expect(page.added).toHaveLength(1)
  })

  it("waits for hCaptcha's own onload call, not the script's load event (hCaptcha is not set up before it)", async () => {
    const page = loaderSandbox()
    const loading = page.loadChallenge("hcaptcha")
    const src = String(page.added[0]?.src)
    expect(src.startsWith("https://js.hcaptcha.com/1/api.js?")).toBe(true)
    const params = new URL(src).searchParams
    expect(params.get("render")).toBe("explicit")
    expect(params.get("recaptchacompat")).toBe("off")
    const onload = params.get("onload") ?? ""
    expect(page.added[0]?.onload).toBeUndefined()
    const hcaptcha = { render: () => "h1", reset: () => undefined }
    page.window.hcaptcha = hcaptcha
    const loaded = page.window[onload] as () => void
    loaded()
    expect(await loading).toBe(hcaptcha)
  })

  it("fails, not hangs, when the script does not load or defines no API", async () => {
    const page = loaderSandbox()
    const refused = page.loadChallenge("turnstile")
    page.added[0]?.onerror?.()
    await expect(refused).rejects.toThrow("did not load")
    const other = loaderSandbox()
    const silent = other.loadChallenge("turnstile")
    other.added[0]?.onload?.()
    await expect(silent).rejects.toThrow("did not start")
    await expect(other.loadChallenge("recaptcha")).rejects.toThrow("unknown provider")
  })

  it("passes the script URL through its own Trusted Types policy, which takes the two providers' URLs and nothing else", () => {
    const page = loaderSandbox({ trustedTypes: true })
    void page.loadChallenge("turnstile")
    void page.loadChallenge("hcaptcha")
    expect(page.policies.map((policy) => policy.name)).toEqual(["switchboard-callback"])
    expect(page.added.map((script) => script.src)).toEqual([
      { trusted: "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit" },
      { trusted: expect.stringMatching(/^https:\/\/js\.hcaptcha\.com\/1\/api\.js\?render=explicit&/) }
    ])
    const policy = page.policies[0]
    expect(() => policy?.createScriptURL("https://evil.example/x.js")).toThrow("not a bot check script")
    expect(() => policy?.createScriptURL("https://challenges.cloudflare.com/turnstile/v0/api.js")).toThrow("not a bot check script")
  })
})

describe("the demo page", () => {
  let app: RunningApp
  let databaseUrl: string
  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
    app = await startApp({ databaseUrl })
  })
  afterAll(() => app.dispose())

  it("embeds the widget with a working publishable key of the demo business, under a CSP without inline script", async () => {
    const response = await app.request("/demo")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    const csp = response.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self';")
    expect(csp).not.toContain("unsafe-inline")
    expect(csp).not.toContain("unsafe-eval")
    const html = await response.text()
    // every script is a file from this origin: none has a body, none is a handler attribute
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)]
    expect(scripts.map((m) => /src="([^"]+)"/.exec(m[1] ?? "")?.[1])).toEqual(["/widget.js", "/demo/demo.js"])
    expect(scripts.every((m) => (m[2] ?? "").trim() === "")).toBe(true)
    expect(html).not.toMatch(/\son[a-z]+=/i)
    expect(html).not.toContain("javascript:")
    // its one stylesheet is the one the CSP names by hash
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? ""
    expect(csp).toContain(`style-src 'sha256-${createHash("sha256").update(style).digest("base64")}'`)
    const key = /<switchboard-callback key="(pk_[A-Za-z0-9_-]{43})">/.exec(html)?.[1]
    expect(key).toBeDefined()

    // the same key on the next visit (kept in this process), for the business that allows the page's origin
    expect(await (await app.request("/demo")).text()).toContain(`key="${key}"`)
    const [business] = await query<{ name: string; allowed_origins: ReadonlyArray<string> }>(databaseUrl, "SELECT name, allowed_origins FROM businesses WHERE id = $1", [DEMO_BUSINESS_ID])
    expect(business?.name).toBe("Demo business")
    expect(business?.allowed_origins).toEqual([app.baseUrl])
    const seen = await app.request(`/v1/business?key=${key}`)
    expect(seen.status).toBe(200)
    expect(await seen.json()).toMatchObject({ name: "Demo business", country: "US" })
  })

  it("has its own script and lists the simulator's texts", async () => {
    const script = await app.request("/demo/demo.js")
    expect(script.status).toBe(200)
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(() => new vm.Script(DEMO_JS)).not.toThrow()
    expect(await script.text()).toBe(DEMO_JS)
    const texts = await app.request("/demo/texts")
    expect(texts.status).toBe(200)
    expect(await texts.json()).toMatchObject({ simulator: true, items: expect.any(Array) })
  })

  it("is not served in production, where the widget still is", async () => {
    const runtime = await app.runtime.runtime()
    const production = new Hono<HttpEnv>()
    production.use("*", requestId(runtime))
    production.route("/", widgetRoutes({ production: true }))
    for (const path of ["/demo", "/demo/demo.js", "/demo/texts"]) {
      const response = await production.request(path)
      expect(response.status, path).toBe(404)
      expect(response.headers.get("content-type")).toBe("application/problem+json")
    }
    expect((await production.request("/widget.js")).status).toBe(200)
  })
})
