/**
 * `/demo` (development only): a business's page as a customer would build it,
 * embedding `<switchboard-callback>` with the demo business's key (its Sales
 * department brings the topic and time choices), beside switches for the
 * widget's language and theme, the simulator's recent texts (where the
 * visitor reads the code) and the widget's status events. The page runs
 * under a strict CSP: scripts only from this origin (`/widget.js`,
 * `/demo/demo.js`), its own stylesheet by hash, no inline style for the
 * widget, which brings its own as a constructed stylesheet.
 */
import { createHash } from "node:crypto"

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c)

const PAGE_CSS = `
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #f6f8fa }
header { background: #24292f; color: #fff; padding: .8rem 1.25rem; font-weight: 600 }
main { display: grid; grid-template-columns: minmax(0, 30rem) minmax(0, 1fr); gap: 2rem; padding: 1.5rem 1.25rem; max-width: 64rem; margin: 0 auto }
@media (max-width: 48rem) { main { grid-template-columns: minmax(0, 1fr); padding: 1rem .75rem } }
h1 { font-size: 1.6rem; margin: 0 0 .5rem }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .4rem }
aside { font-size: .9rem }
label { margin-right: 1rem }
pre { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem; overflow-x: auto; font-size: .8rem }
ol { padding-left: 1.2rem; margin: 0 }
li { margin: .2rem 0; overflow-wrap: anywhere }
li.muted { list-style: none }
.muted { color: #59636e }
body[data-theme="dark"] { background: #0d1117; color: #e6edf3 }
body[data-theme="dark"] pre { background: #161b22; border-color: #30363d; color: #e6edf3 }
body[data-theme="dark"] switchboard-callback { --switchboard-background: #161b22; --switchboard-text: #e6edf3; --switchboard-muted: #9198a1;
  --switchboard-border: #3d444d; --switchboard-input-background: #0d1117; --switchboard-accent: #4493f8; --switchboard-accent-text: #0d1117;
  --switchboard-focus: #4493f8; --switchboard-error: #f85149; --switchboard-success: #3fb950 }
body[data-theme="warm"] switchboard-callback { --switchboard-accent: #bc4c00; --switchboard-focus: #bc4c00; --switchboard-radius: 2px;
  --switchboard-font: Georgia, serif; --switchboard-background: #fff8f2; --switchboard-border: #e0c5b0 }
`

export const demoStyleHash = `sha256-${createHash("sha256").update(PAGE_CSS).digest("base64")}`

/** The page for `key`; `origin` is this server's, as the snippet shows it. */
export const demoPage = (key: string, origin: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard: the callback widget (demo)</title>
<link rel="icon" href="data:,">
<style>${PAGE_CSS}</style>
<script src="/widget.js" async></script>
<script src="/demo/demo.js" defer></script>
</head>
<body>
<header>Demo business</header>
<main>
<section>
<h1>Questions? We call you back.</h1>
<p class="muted">This page embeds the Switchboard widget as a business's own site would. Ask for a callback: the code is texted to the
Twilio simulator (read it on the right), then the simulator calls the business and you, and the widget shows each step live.
The business is always open; its Sales department keeps office hours (weekdays 09:00-17:00 UTC): choose it as the topic to be
offered times to be called, shown in your own time zone.</p>
<switchboard-callback key="${escapeHtml(key)}"></switchboard-callback>
</section>
<aside>
<h2>Try it</h2>
<label>Language <select id="lang"><option value="">the page's (en)</option><option value="es">es</option><option value="de">de</option><option value="fr">fr (not shipped: English)</option></select></label>
<label>Theme <select id="theme"><option value="">default</option><option value="dark">dark</option><option value="warm">warm</option></select></label>
<h2>Texts the simulator received</h2>
<ol id="texts"><li class="muted">none yet</li></ol>
<h2>The widget's events</h2>
<ol id="events"><li class="muted">none yet</li></ol>
<h2>The snippet</h2>
<pre><code>&lt;script src="${escapeHtml(origin)}/widget.js" async&gt;&lt;/script&gt;
&lt;switchboard-callback key="${escapeHtml(key)}"&gt;&lt;/switchboard-callback&gt;</code></pre>
<p class="muted">See docs/widget.md for keys, allowed origins, themes, languages and caching.</p>
</aside>
</main>
</body>
</html>`

/** `/demo/demo.js`: the switches, the simulator's texts (polled), the widget's events. */
export const DEMO_JS = `"use strict"
const widget = document.querySelector("switchboard-callback")
const $ = (id) => document.getElementById(id)
const list = (id, lines) => {
  $(id).replaceChildren(...(lines.length ? lines : ["none yet"]).map((line) => {
    const item = document.createElement("li")
    item.textContent = line
    if (!lines.length) item.className = "muted"
    return item
  }))
}
$("lang").addEventListener("change", (event) => {
  if (event.target.value) widget.setAttribute("lang", event.target.value)
  else widget.removeAttribute("lang")
})
$("theme").addEventListener("change", (event) => { document.body.dataset.theme = event.target.value })
const events = []
widget.addEventListener("switchboard-status", (event) => {
  events.unshift(new Date().toLocaleTimeString() + "  " + event.detail.type + " (" + event.detail.status + ")")
  list("events", events.slice(0, 12))
})
const poll = async () => {
  try {
    const response = await fetch("/demo/texts")
    const body = await response.json()
    if (!body.simulator) list("texts", ["Texts go to real phones: no simulator runs (TWILIO_ACCOUNT_SID is set)."])
    else list("texts", body.items.map((text) => new Date(text.createdAt).toLocaleTimeString() + "  to " + text.to + ": " + text.body))
  } catch {
    // the server restarts: try again
  }
  setTimeout(poll, 1500)
}
poll()
`
