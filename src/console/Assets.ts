/**
 * The console's stylesheet and its one script, served from this origin (the
 * CSP allows nothing else) under paths that carry their content's hash, so a
 * browser may keep them for a year and still never runs a stale one.
 *
 * The script only enhances: it shows times in the operator's time zone (UTC
 * stays on hover), asks before a destructive action, and keeps the page live.
 * Live: it follows `/admin/live` (the operators' event stream, for this
 * session) and, a moment after events arrive, fetches this same page and swaps
 * in every `[data-live]` region, so lists and counters change without a
 * reload and without losing what the operator is typing elsewhere (a page
 * with work in progress looks again every second until it is done). When the
 * stream drops, a banner says so until it is back: EventSource reconnects by
 * itself after a lost connection and resumes after the last event it saw, but
 * gives up on an answer that is not a stream (a 503 from a process shutting
 * down, a proxy's error page), so then the script opens a new one, backing off
 * to 15 s; once back it fetches the page at once, since a new stream does not
 * replay what was missed. A swap keeps keyboard focus: the control that had
 * it takes it back in the fresh region.
 */
import { createHash } from "node:crypto"

const css = String.raw`
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --panel: #f6f8fa; --focus: #0969da;
  --good: #116329; --good-bg: #dafbe1; --bad: #a40e26; --bad-bg: #ffebe9; --warn: #7d4e00; --warn-bg: #fff8c5;
  --info: #0a3069; --info-bg: #ddf4ff; --busy: #6639ba; --busy-bg: #fbefff; }
* { box-sizing: border-box }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--fg); background: var(--bg) }
a { color: #0550ae }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px }
/* date and time fields take focus in their inner parts: the field itself matches neither :focus nor :focus-visible, only :focus-within */
input:focus-within { outline: 3px solid var(--focus); outline-offset: 2px }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem }
.skip:focus { left: .5rem }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel) }
.brand { font-weight: 700 }
.top nav ul { display: flex; flex-wrap: wrap; gap: .25rem .75rem; list-style: none; margin: 0; padding: 0 }
.top nav a { text-decoration: none; padding: .15rem .2rem }
.top nav a[aria-current="page"] { font-weight: 700; text-decoration: underline }
.who { margin-left: auto; display: flex; gap: .5rem; align-items: center }
.role { color: var(--muted) }
main { padding: 1rem; max-width: 84rem }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem }
.banner { background: var(--warn-bg); color: var(--warn); padding: .5rem 1rem; border-bottom: 1px solid var(--line) }
.notice { background: var(--info-bg); color: var(--info); padding: .5rem 1rem; margin: 0 }
.error { background: var(--bad-bg); color: var(--bad); padding: .5rem 1rem }
.scroll { overflow-x: auto; position: relative }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; font-variant-numeric: tabular-nums }
th { background: var(--panel); font-weight: 600 }
td.num, th.num { text-align: right }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap }
.status { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: .85em; font-weight: 600; border: 1px solid currentColor; white-space: nowrap }
.status.good { color: var(--good); background: var(--good-bg) } .status.bad { color: var(--bad); background: var(--bad-bg) }
.status.warn { color: var(--warn); background: var(--warn-bg) } .status.info { color: var(--info); background: var(--info-bg) }
.status.busy { color: var(--busy); background: var(--busy-bg) } .status.muted { color: var(--muted); background: var(--panel) }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .75rem; margin: 0 0 1rem; padding: 0; list-style: none }
.cards li { border: 1px solid var(--line); border-radius: .4rem; padding: .6rem .8rem; background: var(--panel) }
.cards .value { display: block; font-size: 1.5rem; font-weight: 700 }
.cards .label { color: var(--muted) }
form.action { display: inline }
button { font: inherit; padding: .25rem .7rem; border: 1px solid #8c959f; border-radius: .35rem; background: #f6f8fa; color: var(--fg); cursor: pointer }
button:hover:not([disabled]) { background: #eaeef2 }
button.danger { color: var(--bad); border-color: var(--bad) }
button[disabled] { color: #6e7781; cursor: not-allowed; background: #eaeef2 }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; margin: 0 0 1rem }
.filters label { display: flex; flex-direction: column; font-size: .9em; color: var(--muted) }
input, select { font: inherit; padding: .25rem .4rem; border: 1px solid #8c959f; border-radius: .3rem; color: var(--fg); background: var(--bg) }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0 0 1rem }
.facts dt { color: var(--muted) }
.facts dd { margin: 0; overflow-wrap: anywhere }
pre { background: var(--panel); padding: .6rem; overflow-x: auto; border: 1px solid var(--line); border-radius: .3rem; font-size: .85em }
.none, .empty { color: var(--muted) }
.chart { width: 100%; max-width: 36rem; height: auto }
.chart .bar { fill: #0969da } .chart .bar.bad { fill: #cf222e } .chart .axis { stroke: var(--line) }
.chart .bar.wait { fill: #8250df }
h3 { font-size: 1rem; margin: .75rem 0 .4rem }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 24rem), 1fr)); gap: 0 2rem; align-items: start }
.pair figure { margin: .5rem 0 1rem }
.spark { display: inline-flex; align-items: center; gap: .5rem; white-space: nowrap }
.spark svg { display: block; width: 7.5rem; height: 1.6rem }
.spark .bar { fill: #0969da } .spark .bar.bad { fill: #cf222e } .spark .axis { stroke: var(--line) }
main:focus { outline: none }
.signin { max-width: 24rem; margin: 3rem auto; padding: 1.5rem; border: 1px solid var(--line); border-radius: .5rem }
.signin label { display: block; margin: .75rem 0 .25rem }
.signin input { width: 100% }
.signin button { margin-top: 1rem }
.hint { color: var(--muted); font-size: .9em }
form.edit { max-width: 48rem }
form.edit .field, form.inline .field { display: flex; flex-direction: column; gap: .15rem; margin: 0 0 .8rem }
form.inline .plain { display: flex; flex-wrap: wrap; gap: 0 1rem; align-items: flex-end }
form.inline .submit { margin: 0 0 .8rem }
form.action .field { display: inline-flex; flex-direction: column; margin-right: .4rem }
form.action .plain { display: inline-flex; align-items: flex-end; gap: .4rem }
form.action .submit { display: inline; margin: 0 }
.field label { font-weight: 600 }
.field.check label { font-weight: normal; display: flex; gap: .4rem; align-items: baseline }
.field.invalid input, .field.invalid textarea, .field.invalid select { border: 2px solid var(--bad) }
.field-error { color: var(--bad); font-weight: 600 }
fieldset { border: 1px solid var(--line); border-radius: .4rem; margin: 0 0 1rem; padding: .5rem .8rem; min-width: 0 }
fieldset.plain { border: 0; padding: 0; margin: 0 }
fieldset.invalid { border: 2px solid var(--bad) }
legend { font-weight: 600; padding: 0 .3rem }
.week { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0 1rem }
.checks { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0 1rem }
.checks .field { margin: 0 0 .3rem }
.row { display: flex; flex-wrap: wrap; gap: 0 1.5rem }
textarea { font: inherit; font-family: ui-monospace, monospace; width: 100%; padding: .3rem .4rem; border: 1px solid #8c959f; border-radius: .3rem; color: var(--fg); background: var(--bg) }
form.edit input:not([type="checkbox"]), form.inline input, select { max-width: 100% }
form.inline .field { min-width: 0; max-width: 100% }
a.button { display: inline-block; padding: .25rem .7rem; border: 1px solid #8c959f; border-radius: .35rem; background: #f6f8fa; color: var(--fg); text-decoration: none }
a.button:hover { background: #eaeef2 }
.summary { margin: 0 0 1rem }
.summary h2 { margin: 0 0 .3rem; font-size: 1rem }
form.action .field label { font-weight: normal; font-size: .85em; color: var(--muted) }
.summary ul { margin: 0; padding-left: 1.2rem }
.summary a { color: var(--bad) }
input.secret { font-family: ui-monospace, monospace; max-width: 100% }
ol.lines { margin: 0; padding-left: 1.4rem }
ul.choices { margin: 0; padding: 0; list-style: none }
kbd { font-family: ui-monospace, monospace; border: 1px solid #8c959f; border-bottom-width: 2px; border-radius: .25rem; padding: 0 .35rem; background: var(--panel) }
details > summary { cursor: pointer; font-weight: 600; margin: .25rem 0 .75rem }
@media (max-width: 40rem) { body { font-size: 14px } .who { margin-left: 0 } main { padding: .6rem } th, td { padding: .3rem } }
`

const js = String.raw`
"use strict";
(() => {
  const local = (root) => {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const at = new Date(el.getAttribute("datetime"))
      if (!Number.isNaN(at.getTime())) el.textContent = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })
    }
  }
  local(document)
  // a form drawn again with errors: its summary first, so it is read out and each link leads to its field
  const summary = document.getElementById("errors")
  if (summary) summary.focus()
  document.addEventListener("submit", (event) => {
    const form = event.target
    const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined
    if (question && !window.confirm(question)) event.preventDefault()
  })
  // the control that has keyboard focus, told apart from the others of its region by what it is and does
  const FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]"
  const focusKey = (el) => el.id ? "#" + el.id : [el.tagName, el.getAttribute("href"), el.closest("form") ? el.closest("form").getAttribute("action") : "", el.getAttribute("aria-label"), el.textContent.trim()].join("|")
  const main = document.getElementById("main")
  const banner = document.getElementById("live")
  if (!main || !banner || !window.EventSource || document.querySelectorAll("[data-live]").length === 0) return
  let timer = 0
  const refresh = async () => {
    timer = 0
    try {
      const response = await fetch(location.href, { headers: { accept: "text/html" }, credentials: "same-origin" })
      if (!response.ok) return
      const next = new DOMParser().parseFromString(await response.text(), "text/html")
      for (const region of document.querySelectorAll("[data-live]")) {
        const fresh = region.id ? next.getElementById(region.id) : null
        if (fresh) local(fresh) // first, so a region whose only difference is how its times are written stays as it is
        if (fresh && fresh.outerHTML !== region.outerHTML) {
          const active = document.activeElement
          const had = active && active !== document.body && region.contains(active) ? [...region.querySelectorAll(FOCUSABLE)].indexOf(active) : -1
          const key = had >= 0 ? focusKey(active) : ""
          // the rows an operator ticked stay ticked (a checkbox's state is not in the markup)
          const ticked = new Set([...region.querySelectorAll("input[type=checkbox]")].filter((el) => el.checked).map((el) => el.name + "=" + el.value))
          region.replaceWith(document.adoptNode(fresh))
          for (const el of fresh.querySelectorAll("input[type=checkbox]")) if (ticked.has(el.name + "=" + el.value)) el.checked = true
          if (had >= 0) {
            const candidates = [...fresh.querySelectorAll(FOCUSABLE)]
            const again = candidates.find((el) => focusKey(el) === key) || candidates[Math.min(had, candidates.length - 1)]
            if (again) again.focus({ preventScroll: true })
          }
        }
      }
      document.body.dataset.refreshed = String(Date.now())
    } catch { /* the next event tries again */ }
  }
  // a page with work in progress (a bulk operation) also looks again every second until it is done
  const pending = () => document.querySelector('[data-live][data-finished="no"]') !== null
  if (pending()) { const poll = window.setInterval(() => { if (pending()) { if (timer === 0) refresh() } else window.clearInterval(poll) }, 1000) }
  let lost = false
  let failures = 0
  let retry = 0
  const follow = () => {
    retry = 0
    const stream = new EventSource("/admin/live")
    stream.onopen = () => {
      failures = 0
      banner.hidden = true; banner.textContent = ""; document.body.dataset.live = "open"
      // what changed while it was down: a new stream does not replay it, so look again now
      if (lost) { lost = false; window.clearTimeout(timer); timer = window.setTimeout(refresh, 0) }
    }
    stream.onmessage = () => { if (timer === 0) timer = window.setTimeout(refresh, 400) }
    stream.onerror = () => {
      lost = true
      document.body.dataset.live = "lost"
      banner.textContent = "Live updates are interrupted; reconnecting… (the page shows what it had)"
      banner.hidden = false
      // a lost connection EventSource retries by itself; an answer that is not a stream closes it for good
      if (stream.readyState === EventSource.CLOSED && retry === 0) retry = window.setTimeout(follow, Math.min(1000 * 2 ** failures++, 15000))
    }
  }
  follow()
})()
`

const asset = (name: string, ext: string, body: string, type: string) => {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 16)
  return { path: `/admin/assets/${name}-${hash}.${ext}`, body, type }
}

/** A handset on a switchboard plug: the tab's icon. */
const icon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0969da"/><path d="M10 7c1 0 4 5 4 6s-2 2-2 3 3 5 4 5 2-2 3-2 6 3 6 4-2 4-4 4C14 27 5 18 5 12c0-2 3-5 5-5z" fill="#fff"/></svg>`

export const ASSETS = {
  css: asset("console", "css", css, "text/css; charset=utf-8"),
  icon: asset("icon", "svg", icon, "image/svg+xml"),
  js: asset("console", "js", js, "text/javascript; charset=utf-8")
} as const

/** The Content-Security-Policy of every console page: nothing but this origin's own files, no inline code. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
