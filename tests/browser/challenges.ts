/**
 * Stand-ins for the bot check providers' browser side, served in place of
 * `https://challenges.cloudflare.com/**` (Turnstile) and `https://*.hcaptcha.com/**`
 * (hCaptcha) by Playwright's routing, so the browser tests reach no network.
 *
 * The fake `api.js` defines `window.turnstile` / `window.hcaptcha` with
 * `render`, `reset` and `remove`. `render` draws a small framed "challenge"
 * (an iframe from the provider's origin, so the page's frame-src is
 * exercised) into the element it is given: "Verifying…" until the test
 * hands out the next token (`tokens`, through an exposed function), then
 * "Success!", calling `callback` with it; `reset` starts over for another
 * token. It calls hCaptcha's `onload` function when the script URL names one.
 * Every call is logged in `window.__challenges`, for the test to read.
 */
import type { BrowserContext, Route } from "playwright-core"

export interface ChallengeRender {
  readonly id: string
  readonly provider: string
  readonly sitekey: string
  readonly size: string
  readonly language: string | undefined
  /** The host element's slot attribute, its parent's tag, and whether it is in the page's own DOM (not a shadow root). */
  readonly slot: string | null
  readonly parent: string | undefined
  readonly inLightDom: boolean
  readonly callbacks: ReadonlyArray<string>
}

export interface ChallengeLog {
  readonly renders: ReadonlyArray<ChallengeRender>
  readonly resets: ReadonlyArray<string>
  readonly removes: ReadonlyArray<string>
}

/** What page.evaluate sees of the fakes (the project compiles without the DOM library). */
export interface ChallengeGlobals {
  readonly __challenges: ChallengeLog | undefined
}

/** The challenge's frame: "Verifying…" until the fake posts it "solved" (and back on a reset). */
const FRAME_HTML = (size: string) => `<!doctype html>
<meta charset="utf-8">
<style>
  body { margin: 0; font: 14px/1.3 system-ui, sans-serif; color: #1f2328 }
  .box { box-sizing: border-box; height: 100vh; align-items: center; gap: .6rem; padding: .6rem .9rem; background: #fafafa; border: 1px solid #d0d7de; border-radius: 4px;
    display: flex; ${size === "compact" ? "flex-direction: column; justify-content: center; text-align: center" : ""} }
  .tick { flex: none; width: 1.6rem; height: 1.6rem; border-radius: 50%; background: #1a7f37; color: #fff; display: grid; place-items: center; font-weight: 700 }
  .spin { flex: none; width: 1.6rem; height: 1.6rem; border-radius: 50%; border: 3px solid #d0d7de; border-top-color: #f38020; box-sizing: border-box }
  small { display: block; color: #59636e }
  body:not(.solved) .solved, body.solved .verifying { display: none }
</style>
<div class="box verifying"><span class="spin"></span><div>Verifying…<small>security check (test double)</small></div></div>
<div class="box solved"><span class="tick">✓</span><div>Success!<small>security check (test double)</small></div></div>
<script>addEventListener("message", (event) => document.body.classList.toggle("solved", event.data === "solved"))</script>`

/** The fake provider script for `name`, drawing its challenge from `frame` (a URL on the provider's origin). */
const fakeProvider = (name: string, frame: string) => `(() => {
  const name = ${JSON.stringify(name)}
  const log = (window.__challenges = window.__challenges || { renders: [], resets: [], removes: [] })
  const widgets = {}
  let count = 0
  const solve = (id) => {
    const widget = widgets[id]
    const show = (state) => widget.loaded.then(() => widget.frame.contentWindow.postMessage(state, "*"))
    show("verifying")
    return window.__challengeToken().then((token) => {
      if (widgets[id] !== widget || !token) return
      show("solved")
      widget.options.callback(token)
    })
  }
  window[name] = {
    render(host, options) {
      const id = name + "-" + ++count
      const size = options.size || "normal"
      log.renders.push({
        id, provider: name, sitekey: options.sitekey, size, language: options.language || options.hl,
        slot: host.getAttribute("slot"), parent: host.parentNode ? host.parentNode.localName : undefined, inLightDom: host.getRootNode() === document,
        callbacks: ["callback", "expired-callback", "error-callback"].filter((key) => typeof options[key] === "function")
      })
      const iframe = document.createElement("iframe")
      iframe.src = ${JSON.stringify(frame)} + "?size=" + size
      iframe.title = "Security check"
      iframe.width = size === "compact" ? "150" : "300"
      iframe.height = size === "compact" ? "140" : "65"
      iframe.frameBorder = "0"
      const loaded = new Promise((resolve) => iframe.addEventListener("load", resolve, { once: true }))
      host.append(iframe)
      widgets[id] = { options, frame: iframe, loaded }
      solve(id)
      return id
    },
    reset(id) { log.resets.push(id); solve(id) },
    remove(id) { log.removes.push(id); delete widgets[id] }
  }
  const onload = new URL(document.currentScript.src).searchParams.get("onload")
  if (onload) setTimeout(() => window[onload]())
})()
`

export interface ChallengeOptions {
  /** The token each render or reset hands to the widget (undefined: none). */
  readonly tokens: () => Promise<string | undefined>
  /** Refuse the providers' scripts (as a network error or a blocked host would). */
  readonly failScripts?: boolean
}

/** Serves the fakes to every page of `context`; `scripts` lists the provider script URLs the pages asked for. */
export const routeChallenges = async (context: BrowserContext, options: ChallengeOptions) => {
  const scripts: Array<string> = []
  await context.exposeFunction("__challengeToken", options.tokens)
  const serve = (name: string, frame: string) => async (route: Route) => {
    const url = new URL(route.request().url())
    if (url.pathname.endsWith("/api.js")) {
      scripts.push(url.href)
      if (options.failScripts === true) return route.abort("connectionrefused")
      return route.fulfill({ status: 200, contentType: "text/javascript", body: fakeProvider(name, frame) })
    }
    if (`${url.origin}${url.pathname}` === frame) return route.fulfill({ status: 200, contentType: "text/html", body: FRAME_HTML(url.searchParams.get("size") ?? "") })
    return route.fulfill({ status: 404, body: "" })
  }
  await context.route("https://challenges.cloudflare.com/**", serve("turnstile", "https://challenges.cloudflare.com/fake-challenge"))
  await context.route("https://*.hcaptcha.com/**", serve("hcaptcha", "https://newassets.hcaptcha.com/fake-challenge"))
  return { scripts }
}
