/**
 * `GET /admin`: the operator's dashboard, one self-contained page. The page
 * itself holds no data and needs no token; it asks for the admin token, keeps
 * it in the tab's sessionStorage, and reads the admin API with it (callback
 * stats, callbacks by status with the failed ones first, queues, processes,
 * jobs by state, retry and cancel of both). A strict Content-Security-Policy
 * allows only its own inline script and calls to this origin; everything it
 * shows is inserted as text, never as HTML.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { dashboard } from "../contract/Dashboard.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement } from "../Validate.ts"

const script = String.raw`
const $ = (id) => document.getElementById(id)
const token = () => sessionStorage.getItem("switchboard-admin-token") || ""
const api = async (path, init = {}) => {
  const response = await fetch("/admin/api" + path, { ...init, headers: { authorization: "Bearer " + token(), ...(init.headers || {}) } })
  const body = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(body.detail || body.title || ("HTTP " + response.status))
  return body
}
const cell = (row, text) => { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); row.appendChild(td); return td }
const table = (id, headers, rows, render) => {
  const el = $(id); el.replaceChildren()
  const head = el.createTHead().insertRow(); headers.forEach((h) => { const th = document.createElement("th"); th.textContent = h; head.appendChild(th) })
  const body = el.createTBody(); rows.forEach((r) => render(body.insertRow(), r))
  if (rows.length === 0) cell(body.insertRow(), "none").colSpan = headers.length
}
const button = (td, label, action) => { const b = document.createElement("button"); b.textContent = label; b.onclick = action; td.appendChild(b) }
const act = (id, what) => api("/jobs/" + encodeURIComponent(id) + "/" + what, { method: "POST" }).then(refresh, show)
const actOnCallback = (id, what) => api("/callbacks/" + encodeURIComponent(id) + "/" + what, { method: "POST" }).then(refresh, show)
const show = (error) => { $("status").textContent = error ? String(error.message || error) : "" }
const refresh = async () => {
  try {
    const state = $("state").value
    const callbackStatus = $("callback-status").value
    const [queues, processes, jobs, stats, callbacks] = await Promise.all([
      api("/queues"), api("/processes"), api("/jobs?limit=50" + (state ? "&state=" + state : "")),
      api("/stats"), api("/callbacks?limit=50" + (callbackStatus ? "&status=" + callbackStatus : ""))
    ])
    $("stats").textContent = "last 24 h: " + stats.last24h.created + " created, " + stats.last24h.completed + " completed, " + stats.last24h.failed + " failed" +
      (stats.successRate == null ? "" : " (" + Math.round(stats.successRate * 100) + "% success)") + "; now: " +
      Object.entries(stats.callbacks).filter(([, n]) => n > 0).map(([s, n]) => s + " " + n).join(", ")
    table("callbacks", ["id", "business", "phone", "status", "level", "attempts", "last attempt", "updated", ""], callbacks.items, (row, r) => {
      const last = r.attempts.at(-1) || {}
      ;[r.id, r.businessId, r.phone, r.status, r.escalationLevel, r.attempts.length, [last.to, last.status, last.error].filter(Boolean).join(" "), r.updatedAt].forEach((v) => cell(row, v))
      const actions = cell(row, "")
      if (["failed", "cancelled"].includes(r.status)) button(actions, "retry", () => actOnCallback(r.id, "retry"))
      if (["pending_verification", "queued", "retry_scheduled", "escalated", "dialing"].includes(r.status)) button(actions, "cancel", () => actOnCallback(r.id, "cancel"))
    })
    table("queues", ["queue", "available", "scheduled", "running", "retryable", "discarded", "oldest wait (s)", "concurrency"], queues, (row, q) =>
      [q.queue, q.available, q.scheduled, q.running, q.retryable, q.discarded, q.oldestAvailableAgeSeconds.toFixed(1), q.concurrency].forEach((v) => cell(row, v)))
    table("processes", ["id", "role", "host", "pid", "started", "heartbeat", "queues"], processes, (row, p) =>
      [p.id, p.role, p.hostname, p.pid, p.startedAt, p.heartbeatAt, Object.entries(p.queues).map(([q, l]) => q + " " + l.running + "/" + l.concurrency).join(", ")].forEach((v) => cell(row, v)))
    table("jobs", ["id", "queue", "kind", "state", "attempt", "run at", "last error", ""], jobs.items, (row, j) => {
      [j.id, j.queue, j.kind, j.state, j.attempt + "/" + j.maxAttempts, j.runAt, (j.errors.at(-1) || {}).message].forEach((v) => cell(row, v))
      const actions = cell(row, "")
      if (["discarded", "cancelled", "retryable"].includes(j.state)) button(actions, "retry", () => act(j.id, "retry"))
      if (["scheduled", "available", "running", "retryable"].includes(j.state)) button(actions, "cancel", () => act(j.id, "cancel"))
    })
    show()
  } catch (error) { show(error) }
}
$("token").value = token()
$("save").onclick = () => { sessionStorage.setItem("switchboard-admin-token", $("token").value.trim()); refresh() }
$("state").onchange = refresh
$("callback-status").onchange = refresh
$("refresh").onclick = refresh
if (token()) refresh()
setInterval(() => { if (token()) refresh() }, 5000)
`

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard admin</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222 }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; width: 100% }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; font-variant-numeric: tabular-nums }
#status { color: #b00 }
</style>
</head>
<body>
<h1>Switchboard</h1>
<p><label>Admin token <input id="token" type="password" size="40" autocomplete="off"></label> <button id="save">Use</button>
<button id="refresh">Refresh</button> <span id="status"></span></p>
<h2>Callbacks <select id="callback-status"><option value="">all</option><option selected value="failed">failed (dead letters)</option><option>pending_verification</option><option>queued</option><option>dialing</option><option>retry_scheduled</option><option>escalated</option><option>connected</option><option>completed</option><option>cancelled</option><option>expired</option></select></h2>
<p id="stats"></p>
<table id="callbacks"></table>
<h2>Queues</h2><table id="queues"></table>
<h2>Processes</h2><table id="processes"></table>
<h2>Jobs <select id="state"><option value="">all</option><option>available</option><option>scheduled</option><option>running</option><option>retryable</option><option selected>discarded</option><option>cancelled</option><option>completed</option></select></h2>
<table id="jobs"></table>
<script>${script}</script>
</body>
</html>`

const scriptHash = async () => {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script))
  return `sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}`
}

export const dashboardRoutes = () => {
  const router = new Hono<HttpEnv>()
  const csp = scriptHash().then(
    (hash) => `default-src 'none'; script-src '${hash}'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
  )
  implement(router, dashboard, (_, c) =>
    Effect.map(Effect.promise(() => csp), (policy) =>
      c.html(page, 200, {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store"
      })
    )
  )
  return router
}
