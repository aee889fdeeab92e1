/**
 * The `<switchboard-callback>` custom element, as the browser runs it: plain
 * modern JavaScript with no dependency, served inside the bundle that
 * Bundle.ts assembles (which defines `TEXTS`, `CSS`, `CODES` and BotCheck.ts's
 * `loadChallenge` before it).
 *
 * One element walks a visitor through three views in its shadow root:
 *
 *   form ──submit──► code ──verified──► status ──terminal──► (again) form
 *    ▲                 │ (resend, use another number)
 *    └─────────────────┘
 *
 * The status view follows the request's live stream (EventSource on
 * `/v1/callbacks/{id}/stream`); the stream also moves the code view on when
 * the request is verified elsewhere. A request in progress is kept in the
 * tab's sessionStorage, so the next page of the same site picks it up.
 * Everything is built with `createElement` and `textContent` (no innerHTML,
 * no eval), and styles are a constructed stylesheet, so the element works
 * under a strict CSP and Trusted Types.
 *
 * When the business has a bot check, the form also holds the provider's
 * challenge (BotCheck.ts loads its script). Providers' challenges do not work
 * inside a shadow root, so it is rendered into a light-DOM child of the
 * element (`<div slot="challenge">`) that a named slot shows in the form. The
 * submit waits for a token (aria-disabled, described by a hint; pressed
 * early, it goes once the token comes), sends it as `botToken`, and resets
 * the challenge after each create, refused or not: a token is good once.
 *
 * The form also offers what the business lets a visitor choose, loaded with
 * the business and left out when a call for it fails (the form works without
 * them): a topic (`GET /v1/topics`, its departments; shown only when there is
 * one) and when to be called (`GET /v1/availability` for the chosen topic,
 * refetched when it changes: as soon as possible, or one of the next open
 * windows in the visitor's own time zone; shown only when there is more to
 * choose than "now"). A window the server no longer accepts (422
 * window-unavailable) is said under the field and its `nextWindows` replace
 * the list.
 *
 * Written without template literals: this text sits inside one.
 */
export const ELEMENT_JS = String.raw`
const TAG = "switchboard-callback"
const TERMINAL = ["completed", "failed", "cancelled", "expired"]
const script = document.currentScript
const ORIGIN = script && script.src ? script.src.replace(/\/widget(?:\.js|\/v1\.[0-9a-f]+\.js)(?:[?#].*)?$/, "") : ""
const kebab = (key) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())
const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (all, name) => (vars && vars[name] != null ? String(vars[name]) : all))
const h = (tag, attrs, ...children) => {
  const el = document.createElement(tag)
  for (const name in attrs) if (attrs[name] != null) el.setAttribute(name, attrs[name])
  el.append(...children)
  return el
}
let sheet
const adopt = (root) => {
  try {
    if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS) }
    root.adoptedStyleSheets = [sheet]
  } catch {
    root.append(h("style", {}, CSS)) // browsers without constructed stylesheets (needs style-src to allow it)
  }
}
let codes
const callingCode = (country) => {
  if (!codes) { codes = {}; for (const pair of CODES.split(",")) codes[pair.slice(0, 2)] = "+" + pair.slice(2) }
  return codes[country]
}
const storage = () => { try { return window.sessionStorage } catch { return undefined } }
const failure = (kind, status, problem, retryAfter) => Object.assign(new Error(kind), { kind, status, problem: problem || {}, retryAfter })
const quiet = (call) => call.catch(() => undefined)
const topicsOf = (body) => (body && Array.isArray(body.items) ? body.items : []).filter((topic) => topic && typeof topic.key === "string" && topic.key && topic.key !== "main" && typeof topic.name === "string")
const windowsOf = (list) => (Array.isArray(list) ? list : []).filter((w) => w && !isNaN(Date.parse(w.start)) && !isNaN(Date.parse(w.end)))
/** Replaces a select's options when they differ ([value, label] pairs), keeping the chosen value if it is still offered. */
const setOptions = (select, items) => {
  const options = select.options
  if (options.length === items.length && items.every((item, i) => options[i].value === item[0] && options[i].textContent === item[1])) return
  const value = select.value
  select.replaceChildren(...items.map((item) => h("option", { value: item[0] }, item[1])))
  select.value = items.some((item) => item[0] === value) ? value : ""
}

class SwitchboardCallback extends HTMLElement {
  static get observedAttributes() {
    return ["key", "publishable-key", "lang", "api"].concat(Object.keys(TEXTS.en).map((key) => "text-" + kebab(key)))
  }

  constructor() {
    super()
    this.overrides = {}
    this.view = "loading"
    this.errors = {}
    this.run = 0
    this.asked = 0
    this.topics = []
    this.windows = []
    this.topic = ""
  }

  /** Texts that replace the language's own: { submit: "Ring me" }. */
  get texts() { return this.overrides }
  set texts(value) { this.overrides = value || {}; if (this.built) this.render() }

  connectedCallback() {
    if (Object.prototype.hasOwnProperty.call(this, "texts")) { const value = this.texts; delete this.texts; this.texts = value }
    if (!this.built) this.build()
    this.start()
  }

  disconnectedCallback() { this.run++; this.unfollow(); this.dropCheck() }

  attributeChangedCallback(name, before, after) {
    if (!this.built || !this.isConnected || before === after) return
    if (name === "key" || name === "publishable-key" || name === "api") this.start()
    else this.render()
  }

  key() { return (this.getAttribute("key") || this.getAttribute("publishable-key") || "").trim() }
  api() { return (this.getAttribute("api") || ORIGIN).replace(/\/+$/, "") }
  storageKey() { return "switchboard-callback:" + this.key() }

  language() {
    const owner = this.closest("[lang]") || document.documentElement
    const wanted = (owner.getAttribute("lang") || "en").toLowerCase()
    const languages = SwitchboardCallback.languages
    return languages[wanted] ? wanted : languages[wanted.split("-")[0]] ? wanted.split("-")[0] : "en"
  }

  t(key, vars) {
    const own = this.overrides[key]
    const attribute = this.getAttribute("text-" + kebab(key))
    const language = SwitchboardCallback.languages[this.language()] || {}
    const text = own != null ? String(own) : attribute != null ? attribute : language[key] || TEXTS.en[key] || key
    const values = Object.assign({ business: this.business ? this.business.name : "" }, vars)
    if (values.time) values.time = this.time(values.time)
    return fill(text, values)
  }

  /** The visitor's locale for times: the page's or the browser's tag with a region, when it is of the widget's language; else the language. */
  locale() {
    const language = this.language()
    const owner = this.closest("[lang]") || document.documentElement
    const tags = [owner.getAttribute("lang")].concat(navigator.languages || [navigator.language])
    for (const tag of tags) {
      if (!tag || tag.indexOf("-") < 0 || tag.toLowerCase().split("-")[0] !== language) continue
      try { return Intl.getCanonicalLocales(tag)[0] } catch { /* not a language tag */ }
    }
    return language
  }

  time(iso) {
    const at = new Date(iso)
    const today = at.toDateString() === new Date().toDateString()
    const options = today ? { hour: "numeric", minute: "2-digit" } : { weekday: "short", hour: "numeric", minute: "2-digit" }
    try { return new Intl.DateTimeFormat(this.locale(), options).format(at) } catch { return at.toLocaleString() }
  }

  /** A window in the visitor's time zone and locale: "Tue 8 Dec, 10:00–11:00". */
  span(window) {
    const start = new Date(window.start)
    const end = new Date(window.end)
    try {
      const format = new Intl.DateTimeFormat(this.locale(), { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" })
      return format.formatRange ? format.formatRange(start, end) : format.format(start) + " – " + format.format(end)
    } catch {
      return start.toLocaleString() + " – " + end.toLocaleString()
    }
  }

  /** The visitor's time zone by name ("Central European Time"), or its id when it has no name of its own. */
  zone() {
    let zone = ""
    try {
      zone = new Intl.DateTimeFormat().resolvedOptions().timeZone || ""
      const named = new Intl.DateTimeFormat(this.locale(), { timeZoneName: "longGeneric" }).formatToParts(new Date()).find((part) => part.type === "timeZoneName")
      if (named && !/^(GMT|UTC)([+\u2212-]|$)/.test(named.value)) zone = named.value
    } catch { /* the id */ }
    return zone
  }

  /** The windows to offer: those not over yet; none when the only one starts now (always open: "as soon as possible" says it). */
  offered() {
    const now = Date.now()
    const open = this.windows.filter((w) => Date.parse(w.end) > now)
    return open.length === 1 && Date.parse(open[0].start) <= now + 60000 ? [] : open
  }

  build() {
    this.built = true
    this.ui = {}
    const root = this.attachShadow({ mode: "open" })
    adopt(root)
    const field = (name, control, hint) => {
      const describedBy = (hint ? name + "-hint " : "") + name + "-error"
      control.setAttribute("id", name)
      control.setAttribute("name", name)
      control.setAttribute("aria-describedby", describedBy)
      control.setAttribute("part", "input")
      this.ui[name] = control
      this.ui[name + "Label"] = h("label", { for: name })
      this.ui[name + "Error"] = h("p", { id: name + "-error", class: "error", part: "error" })
      const parts = [this.ui[name + "Label"], control]
      if (hint) parts.push((this.ui[name + "Hint"] = h("p", { id: name + "-hint", class: "hint" })))
      parts.push(this.ui[name + "Error"])
      return parts
    }
    this.ui.heading = h("h2", { tabindex: "-1", part: "heading" })
    this.ui.intro = h("p", { class: "intro" })
    this.ui.submit = h("button", { type: "submit", class: "primary", part: "button" })
    this.ui.formError = h("p", { class: "error", role: "alert", part: "error" })
    this.ui.challengeHint = h("p", { id: "challenge-hint", class: "hint" })
    this.ui.challenge = h("div", { class: "challenge" }, h("slot", { name: "challenge" }), this.ui.challengeHint)
    this.ui.form = h("form", { novalidate: "", part: "form" },
      this.ui.intro,
      ...field("phone", h("input", { type: "tel", autocomplete: "tel", inputmode: "tel", required: "", "aria-required": "true", maxlength: "64" }), true),
      ...field("name", h("input", { type: "text", autocomplete: "name", maxlength: "100" })),
      (this.ui.topicField = h("div", { hidden: "" }, ...field("topic", h("select", {})))),
      (this.ui.whenField = h("div", { hidden: "" }, ...field("when", h("select", {}), true))),
      ...field("note", h("textarea", { maxlength: "500", rows: "3" })),
      this.ui.challenge, this.ui.formError, this.ui.submit)
    this.ui.sentTo = h("p", {})
    this.ui.confirm = h("button", { type: "submit", class: "primary", part: "button" })
    this.ui.resend = h("button", { type: "button", class: "link", part: "link" })
    this.ui.change = h("button", { type: "button", class: "link", part: "link" })
    this.ui.codeForm = h("form", { novalidate: "", part: "form" },
      this.ui.sentTo,
      ...field("code", h("input", { type: "text", class: "code", autocomplete: "one-time-code", inputmode: "numeric", required: "", "aria-required": "true", maxlength: "12" })),
      this.ui.confirm, h("div", { class: "links" }, this.ui.resend, this.ui.change))
    this.ui.message = h("p", { role: "status", "aria-live": "polite", "aria-atomic": "true" })
    this.ui.status = h("div", { class: "status", part: "status" }, h("span", { class: "icon", "aria-hidden": "true" }), this.ui.message)
    this.ui.again = h("button", { type: "button", class: "link", part: "link" })
    this.ui.againLinks = h("div", { class: "links" }, this.ui.again)
    this.ui.card = h("div", { class: "card", part: "card" }, this.ui.heading, this.ui.form, this.ui.codeForm, this.ui.status, this.ui.againLinks)
    root.append(this.ui.card)
    this.ui.form.addEventListener("submit", (event) => { event.preventDefault(); this.create() })
    this.ui.codeForm.addEventListener("submit", (event) => { event.preventDefault(); this.verify() })
    this.ui.resend.addEventListener("click", () => this.resendCode())
    this.ui.change.addEventListener("click", () => this.show("form", this.ui.phone))
    this.ui.again.addEventListener("click", () => { this.forget(); this.ui.note.value = ""; this.ui.when.value = ""; this.show("form", this.ui.phone); this.loadWindows() })
    this.ui.topic.addEventListener("change", () => { this.topic = this.ui.topic.value; this.errors.topic = this.errors.when = undefined; this.render(); this.loadWindows() })
    this.ui.when.addEventListener("change", () => { if (this.errors.when) { this.errors.when = undefined; this.render() } })
  }

  /** (Re)starts for the current key: loads the business, then resumes a saved request or shows the form. */
  async start() {
    const run = ++this.run
    this.unfollow()
    this.dropCheck()
    this.flow = undefined
    this.business = undefined
    this.topics = []
    this.windows = []
    this.topic = ""
    this.errors = {}
    this.setStatus(undefined)
    this.show("loading")
    if (!this.key()) return this.broken("the key attribute (a publishable key, pk_...) is missing")
    try {
      // the choices at the same time; without them (a failed call, an older server) the form asks for none
      const [business, topics, availability] = await Promise.all([this.call("GET", "/v1/business"), quiet(this.call("GET", "/v1/topics")), quiet(this.call("GET", "/v1/availability"))])
      if (run !== this.run) return
      this.business = business
      this.topics = topicsOf(topics)
      this.windows = windowsOf(availability && availability.windows)
    } catch (error) {
      if (run !== this.run) return
      return this.broken("the business could not be loaded (" + (error.status ? "HTTP " + error.status + " " + (error.problem.detail || "") : "network error or an origin not allowed for this key") + ")")
    }
    let saved
    try { saved = JSON.parse((storage() && storage().getItem(this.storageKey())) || "null") } catch { saved = null }
    if (saved && saved.id && saved.token) {
      this.flow = saved
      this.ui.phone.value = saved.phone || ""
      this.follow()
      this.show(saved.verified ? "status" : "code")
    } else this.show("form")
  }

  broken(reason) {
    console.error("<" + TAG + ">: " + reason)
    this.show("broken")
  }

  /** One call to the API; fails with { kind: "offline" } or { kind: "http", status, problem, retryAfter }. */
  async call(method, path, body) {
    const url = this.api() + path + (path.indexOf("?") < 0 ? "?" : "&") + "key=" + encodeURIComponent(this.key())
    const init = { method, credentials: "omit", headers: { accept: "application/json" } }
    if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body) }
    let response
    try { response = await fetch(url, init) } catch { throw failure("offline") }
    const json = /json/.test(response.headers.get("content-type") || "") ? await response.json().catch(() => ({})) : {}
    if (!response.ok) throw failure("http", response.status, json, json.retryAfterSeconds || Number(response.headers.get("retry-after")) || undefined)
    return json
  }

  /** The text key (and values) for a failed call. */
  problem(error) {
    if (error.kind === "offline") return ["offline"]
    if (error.status === 409) return ["conflict"]
    if (error.status === 403 && /\/bot-check-failed$/.test(error.problem.type || "")) return ["botCheckFailed"]
    if (error.status === 429) return error.retryAfter ? ["rateLimited", { n: Math.max(1, Math.ceil(error.retryAfter / 60)) }] : ["error"]
    if ([401, 403, 404].indexOf(error.status) >= 0) return ["unavailable"]
    return ["error"]
  }

  async create() {
    if (this.pending) return
    const phone = this.ui.phone.value.trim()
    const name = this.ui.name.value.trim()
    const note = this.ui.note.value.trim()
    const topic = this.topics.length ? this.ui.topic.value : ""
    const chosen = this.offered().length && this.ui.when.value ? this.ui.when.value.split("/") : undefined
    this.errors = {}
    if (!phone) return this.invalid("phone", ["required"])
    if (this.flow && !this.flow.verified && this.flow.phone === phone) return this.show("code", this.ui.code)
    const check = this.check
    if (check && !check.token) {
      if (check.failed) this.errors.form = ["botCheckUnavailable"]
      else this.queued = true // sent when the token comes
      return this.render()
    }
    this.queued = false
    const body = { phone }
    if (name) body.name = name
    if (note) body.note = note
    if (topic) body.topic = topic
    if (chosen) body.window = { start: chosen[0], end: chosen[1] }
    if (check) { body.botToken = check.token; check.token = undefined; check.spent = true }
    const run = this.run
    this.busy(true)
    try {
      const created = await this.call("POST", "/v1/callbacks", body)
      if (run !== this.run) return
      this.unfollow()
      this.flow = { id: created.id, token: created.streamToken, phone, verified: false, window: !!chosen }
      this.save()
      this.ui.code.value = ""
      this.follow()
      this.show("code", this.ui.code)
    } catch (error) {
      if (run !== this.run) return
      const fields = error.status === 400 && Array.isArray(error.problem.errors) ? error.problem.errors : []
      for (const each of fields.slice().reverse()) {
        const name = String(each.path || "").split("/")[1]
        if (name === "phone") this.invalid("phone", ["invalidPhone"])
        else if (name === "name" || name === "note") this.invalid(name, ["tooLong"])
        else if (name === "topic") { this.invalid("topic", ["topicGone"]); this.reloadTopics() }
        else if (name === "window") this.invalid("when", ["windowUnavailable"])
      }
      if (!fields.length) {
        if (error.status === 422 && /\/window-unavailable$/.test(error.problem.type || "")) this.windowGone(error.problem.nextWindows)
        else { this.errors.form = this.problem(error); this.render() }
      }
      if (check && this.check === check) this.renewCheck()
      else if (!check && this.errors.form && this.errors.form[0] === "botCheckFailed") this.reloadBusiness() // a bot check turned on since the page loaded
    } finally {
      this.busy(false)
    }
  }

  /** The chosen topic's next windows; none when they cannot be loaded (the visitor is called as soon as possible). */
  async loadWindows() {
    const asked = ++this.asked
    const run = this.run
    const topic = this.topic
    let windows = []
    try { windows = windowsOf((await this.call("GET", "/v1/availability" + (topic ? "?topic=" + encodeURIComponent(topic) : ""))).windows) } catch { /* as soon as possible only */ }
    if (run !== this.run || asked !== this.asked) return
    this.windows = windows
    this.render()
  }

  /** The topics again, after the server refused the chosen one (removed since the page loaded). */
  async reloadTopics() {
    const run = this.run
    const topics = topicsOf(await quiet(this.call("GET", "/v1/topics")))
    if (run !== this.run) return
    this.topics = topics
    this.render()
    if (this.ui.topic.value !== this.topic) { this.topic = this.ui.topic.value; this.loadWindows() }
  }

  /** The chosen window can no longer be met: the server's next windows replace the list, and the visitor chooses again. */
  windowGone(next) {
    this.asked++ // a load under way would bring an older list
    this.windows = windowsOf(next)
    this.ui.when.value = ""
    if (this.offered().length) this.invalid("when", ["windowUnavailable"])
    else { this.errors.form = ["windowUnavailable"]; this.render() }
  }

  async verify() {
    if (this.pending || !this.flow) return
    const code = this.ui.code.value.replace(/\s+/g, "")
    this.errors = {}
    if (!code) return this.invalid("code", ["codeRequired"])
    const run = this.run
    this.busy(true)
    try {
      await this.call("POST", "/v1/callbacks/" + encodeURIComponent(this.flow.id) + "/verification", { code })
      if (run === this.run) this.verified()
    } catch (error) {
      if (run !== this.run) return
      if (error.status === 400 && error.problem.attemptsRemaining != null) this.invalid("code", ["wrongCode", { n: error.problem.attemptsRemaining }])
      else if (error.status === 410) this.invalid("code", ["codeGone"])
      else if (error.status === 409) this.verified() // no longer waiting for a code: the stream tells what it is
      else this.invalid("code", this.problem(error))
    } finally {
      this.busy(false)
    }
  }

  async resendCode() {
    if (this.pending || !this.flow || this.resendBlocked) return
    this.errors = {}
    const run = this.run
    this.busy(true)
    try {
      await this.call("POST", "/v1/callbacks/" + encodeURIComponent(this.flow.id) + "/verification/resend")
      if (run !== this.run) return
      this.ui.code.value = ""
      this.announce("resent")
      this.resendBlocked = true
      this.ui.resend.setAttribute("aria-disabled", "true")
      setTimeout(() => { this.resendBlocked = false; this.ui.resend.removeAttribute("aria-disabled") }, 20000)
    } catch (error) {
      if (run !== this.run) return
      this.invalid("code", error.status === 410 ? ["expired"] : this.problem(error))
    } finally {
      this.busy(false)
    }
  }

  verified() {
    if (!this.flow) return
    this.flow.verified = true
    this.save()
    if (!this.statusText) this.setStatus(["booked"], "busy")
    this.show("status", this.ui.heading)
  }

  /** Follows the request's live stream; events are applied in seq order, once each. */
  follow() {
    const flow = this.flow
    const url = this.api() + "/v1/callbacks/" + encodeURIComponent(flow.id) + "/stream?token=" + encodeURIComponent(flow.token) + "&key=" + encodeURIComponent(this.key())
    const source = new EventSource(url)
    this.source = source
    this.seq = 0
    source.onmessage = (message) => {
      let event
      try { event = JSON.parse(message.data) } catch { return }
      if (this.source === source && this.flow === flow) this.apply(event)
    }
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED || this.source !== source) return
      this.source = undefined // refused (or gone): try again a little later
      this.retry = setTimeout(() => { if (this.flow === flow && this.isConnected) this.follow() }, 5000)
    }
  }

  unfollow() {
    if (this.source) this.source.close()
    this.source = undefined
    clearTimeout(this.retry)
  }

  apply(event) {
    if (typeof event.seq === "number") { if (event.seq <= this.seq) return; this.seq = event.seq }
    const data = event.data || {}
    const soon = !data.scheduledFor || new Date(data.scheduledFor).getTime() - Date.now() < 60000
    const texts = {
      "callback.verified": soon ? ["booked"] : [this.flow && this.flow.window ? "bookedFor" : "bookedAt", { time: data.scheduledFor }],
      "callback.retried": ["booked"],
      "callback.dialing": ["dialing"],
      "call.placed": ["dialing"],
      "callback.dial_taken_back": ["waiting"],
      "callback.connected": ["connected"],
      "callback.retry_scheduled": ["retry", { time: data.nextAttemptAt }],
      "callback.escalated": ["escalated"],
      "callback.routed": ["escalated"],
      "callback.budget_exhausted": data.channel === "call" ? ["delayed", { time: data.retryAt }] : undefined,
      "callback.completed": ["completed"],
      "callback.failed": ["failed"],
      "callback.cancelled": ["cancelled"],
      "callback.expired": ["expired"]
    }
    const done = TERMINAL.indexOf(event.status) >= 0
    if (texts[event.type]) this.setStatus(texts[event.type], done ? (event.status === "completed" ? "done" : "stopped") : "busy")
    this.dispatchEvent(new CustomEvent("switchboard-status", { bubbles: true, composed: true, detail: { callbackId: event.callbackId, type: event.type, status: event.status } }))
    if (done) {
      this.unfollow()
      this.forget(true)
      this.show("status", this.view === "status" ? undefined : this.ui.heading)
    } else if (event.status && event.status !== "pending_verification" && this.view !== "status") this.verified()
    else this.render()
  }

  setStatus(text, tone) { this.statusText = text; this.tone = tone }

  announce(key) { this.note_ = key; this.render(); setTimeout(() => { if (this.note_ === key) { this.note_ = undefined; this.render() } }, 8000) }

  save() { try { storage().setItem(this.storageKey(), JSON.stringify(this.flow)) } catch { /* not kept: the flow still works on this page */ } }

  /** Drops the saved request; keepView leaves the finished status on screen. */
  forget(keepView) {
    try { storage().removeItem(this.storageKey()) } catch { /* nothing kept */ }
    if (!keepView) { this.unfollow(); this.flow = undefined; this.setStatus(undefined) }
  }

  invalid(name, text) {
    this.errors[name] = text
    this.render()
    this.ui[name].focus()
    if (this.ui[name].select) this.ui[name].select()
  }

  busy(on) { this.pending = on; this.render() }

  show(view, focus) {
    this.view = view
    this.render()
    if (view === "form") this.prepareCheck()
    if (focus) focus.focus()
  }

  async reloadBusiness() {
    const run = this.run
    try {
      const business = await this.call("GET", "/v1/business")
      if (run === this.run && this.view === "form") { this.business = business; this.prepareCheck() }
    } catch { /* the form says what went wrong already */ }
  }

  /** The business's challenge, rendered when the form first shows and renewed when it shows again after a create. */
  prepareCheck() {
    const setting = this.business && this.business.botCheck
    if (setting && !this.check) this.mountCheck(setting)
    else if (this.check && this.check.spent) this.renewCheck()
  }

  async mountCheck(setting) {
    const check = (this.check = { host: h("div", { slot: "challenge" }) })
    this.append(check.host)
    this.render()
    const failed = (error) => {
      if (this.check !== check) return
      check.failed = true
      check.token = undefined
      if (error) console.error("<" + TAG + ">: the bot check (" + setting.provider + ") cannot start: " + error.message + " (does the page's Content-Security-Policy allow it?)")
      this.errors.form = ["botCheckUnavailable"]
      this.render()
      return true // handled (Turnstile retries by itself)
    }
    const solved = (token) => {
      if (this.check !== check) return
      check.token = token
      check.failed = false
      if (this.errors.form && this.errors.form[0] === "botCheckUnavailable") this.errors.form = undefined
      this.render()
      if (token && this.queued && this.view === "form") this.create()
    }
    try {
      const api = await loadChallenge(setting.provider)
      if (this.check !== check) return
      const options = {
        sitekey: setting.siteKey,
        size: this.ui.challenge.clientWidth < 304 ? "compact" : "normal",
        callback: solved,
        "expired-callback": () => solved(undefined),
        "error-callback": () => failed()
      }
      options[setting.provider === "hcaptcha" ? "hl" : "language"] = this.language()
      check.id = api.render(check.host, options)
      check.api = api
    } catch (error) {
      failed(error)
    }
  }

  /** A fresh challenge after a token was spent (or refused). */
  renewCheck() {
    const check = this.check
    check.token = undefined
    check.spent = false
    try { if (check.api) check.api.reset(check.id) } catch { /* the provider keeps its own state */ }
    this.render()
  }

  dropCheck() {
    const check = this.check
    this.check = undefined
    this.queued = false
    if (!check) return
    try { if (check.api && check.api.remove) check.api.remove(check.id) } catch { /* gone with its host anyway */ }
    check.host.remove()
  }

  render() {
    const t = (key, vars) => this.t(key, vars)
    const text = (pair) => (pair ? t(pair[0], pair[1]) : "")
    const view = this.view
    const card = this.ui.card
    card.setAttribute("lang", this.language())
    card.setAttribute("aria-busy", view === "loading" || this.pending ? "true" : "false")
    this.ui.heading.textContent = view === "code" ? t("codeTitle") : view === "status" ? t("statusTitle") : this.business ? t("titleBusiness") : t("title")
    this.ui.form.hidden = view !== "form"
    this.ui.codeForm.hidden = view !== "code"
    this.ui.intro.textContent = t("intro")
    this.ui.phoneLabel.textContent = t("phone")
    const country = this.business && this.business.country
    const code = country && callingCode(country)
    let countryName = country
    try { countryName = new Intl.DisplayNames([this.language()], { type: "region" }).of(country) } catch { /* the code itself */ }
    this.ui.phoneHint.textContent = code ? t("phoneHint", { country: countryName, code }) : ""
    this.ui.nameLabel.textContent = t("name")
    this.ui.noteLabel.textContent = t("note")
    this.ui.topicField.hidden = !this.topics.length
    this.ui.topicLabel.textContent = t("topic")
    setOptions(this.ui.topic, [["", t("topicGeneral")]].concat(this.topics.map((topic) => [topic.key, topic.name])))
    const windows = this.offered()
    this.ui.whenField.hidden = !windows.length
    this.ui.whenLabel.textContent = t("when")
    this.ui.whenHint.textContent = windows.length ? t("whenHint", { zone: this.zone() }) : ""
    setOptions(this.ui.when, [["", t("asap")]].concat(windows.map((w) => [w.start + "/" + w.end, this.span(w)])))
    this.ui.codeLabel.textContent = t("code")
    this.ui.sentTo.textContent = t("codeSentTo", { phone: this.flow ? this.flow.phone : "" })
    const waiting = !!this.check && !this.check.token
    this.ui.challenge.hidden = !this.check || (this.check.failed && !this.check.api) // no script: nothing to show
    this.ui.challengeHint.textContent = waiting && !this.check.failed ? t("botCheck") : ""
    this.ui.submit.textContent = this.pending && view === "form" ? t("busy") : this.queued ? t("botWaiting") : t("submit")
    this.ui.confirm.textContent = this.pending && view === "code" ? t("busy") : t("verify")
    this.ui.submit.setAttribute("aria-disabled", this.pending || waiting ? "true" : "false")
    this.ui.confirm.setAttribute("aria-disabled", this.pending ? "true" : "false")
    if (waiting) this.ui.submit.setAttribute("aria-describedby", "challenge-hint")
    else this.ui.submit.removeAttribute("aria-describedby")
    this.ui.resend.textContent = t("resend")
    this.ui.change.textContent = t("changeNumber")
    for (const name of ["phone", "name", "topic", "when", "note", "code"]) {
      const error = this.errors[name]
      this.ui[name + "Error"].textContent = text(error)
      if (error) this.ui[name].setAttribute("aria-invalid", "true")
      else this.ui[name].removeAttribute("aria-invalid")
    }
    this.ui.formError.textContent = text(this.errors.form)
    const shown = view === "status" || view === "loading" || view === "broken"
    const message = view === "broken" ? t("unavailable") : view === "status" ? text(this.statusText) : this.note_ ? t(this.note_) : ""
    if (this.ui.message.textContent !== message) this.ui.message.textContent = message
    this.ui.status.className = "status " + (view === "loading" ? "busy" : view === "broken" ? "stopped" : view === "status" ? this.tone || "busy" : message ? "note" : "quiet")
    this.ui.status.firstChild.hidden = !shown
    this.ui.again.textContent = t("again")
    this.ui.againLinks.hidden = !(view === "status" && (this.tone === "done" || this.tone === "stopped"))
  }
}

SwitchboardCallback.languages = TEXTS
if (!customElements.get(TAG)) customElements.define(TAG, SwitchboardCallback)
`
