/**
 * The console's front door over real HTTP: sign-in with the admin token or an
 * account (and refusal, and its rate limit), the session cookie's attributes,
 * sign-out, CSRF and same-origin checks on changes, the read-only role, and
 * the audit rows all of it leaves. A form that is refused changes nothing.
 */
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Operators } from "../../../infra/console/Operators.ts"
import { ADMIN_TOKEN, type RunningApp, startApp } from "../../support/app.ts"
import { thisRuntime } from "../../support/runtime.ts"
import { consoleClient } from "../../support/console.ts"
import { cloneDatabase, query } from "../../support/database.ts"

describe("the console's sessions", () => {
  let app: RunningApp
  let url: string
  let client = 0
  /** A browser of its own, from an address of its own (TRUST_PROXY=1: the sign-in limit counts per address). */
  const browser = () => consoleClient(app.baseUrl, { "x-forwarded-for": `198.51.100.${++client}` })
  const addAccount = (name: string, role: "admin" | "viewer", password: string) =>
    app.runtime.runPromise(Effect.flatMap(Operators, (operators) => operators.upsert(name, role, password)))
  /** A job that waits an hour: something to cancel. */
  const scheduledJob = async (): Promise<string> => {
    const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "test.tick", delaySeconds: 3600 }) })
    expect(response.status).toBe(201)
    return ((await response.json()) as { id: string }).id
  }
  const stateOf = async (id: string) => (await query<{ state: string }>(url, "SELECT state FROM jobs WHERE id = $1", [id]))[0]?.state
  const auditRows = (action: string) =>
    query<{ operator: string; role: string | null; outcome: string; target: string | null; ip: string | null }>(url, "SELECT operator, role, outcome, target, ip FROM operator_audit WHERE action = $1 ORDER BY id", [action])

  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startApp({ databaseUrl: url, env: { TRUST_PROXY: "1", CONSOLE_SIGN_IN_LIMIT: "4" } })
  }, 60_000)
  afterAll(async () => {
    await app.dispose()
  })

  it("sends a visitor without a session to the sign-in form, and back where they were after", async () => {
    const b = browser()
    const first = await b.get("/admin/jobs?state=discarded")
    expect(first.status).toBe(303)
    expect(first.headers.get("location")).toBe(`/admin/sign-in?next=${encodeURIComponent("/admin/jobs?state=discarded")}`)
    const form = await b.get(first.headers.get("location") ?? "")
    expect(form.status).toBe(200)
    expect(await form.text()).toContain('value="/admin/jobs?state=discarded"')
    const signedIn = await b.post("/admin/sign-in", { name: "", password: ADMIN_TOKEN, next: "/admin/jobs?state=discarded" }, { csrf: null })
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get("location")).toBe("/admin/jobs?state=discarded")
    const page = await b.get("/admin/jobs?state=discarded")
    expect(page.status).toBe(200)
    expect(await page.text()).toContain("<h1>Jobs</h1>")
  })

  it("keeps a signed session id in an HttpOnly, SameSite=Strict cookie: never the token", async () => {
    const b = browser()
    const response = await b.signIn("", ADMIN_TOKEN)
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith("switchboard_session=")) ?? ""
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    expect(cookie).toMatch(/Path=\//)
    expect(cookie).not.toMatch(/Secure/i) // served over http here; over https it is Secure and __Host- prefixed
    expect(cookie).not.toContain(ADMIN_TOKEN)
    expect(cookie).not.toContain(encodeURIComponent(ADMIN_TOKEN))
    // a forged value (the signature of another id) is no session
    const forged = (b.cookie() ?? "").replace(/=([A-Za-z0-9_-])/, (_, c: string) => `=${c === "A" ? "B" : "A"}`)
    const stranger = await fetch(`${app.baseUrl}/admin`, { redirect: "manual", headers: { cookie: forged } })
    expect(stranger.status).toBe(303)
    expect(stranger.headers.get("location")).toMatch(/^\/admin\/sign-in/)
  })

  it("refuses a wrong password with the form again, and audits each attempt with the name it gave", async () => {
    await addAccount("ada", "admin", "correct horse battery")
    const b = browser()
    const wrong = await b.signIn("ada", "not the password")
    expect(wrong.status).toBe(401)
    expect(await wrong.text()).toContain("did not match")
    expect(b.cookie()).toBeUndefined()
    const unknown = await b.signIn("nobody", "whatever it is")
    expect(unknown.status).toBe(401)
    const right = await b.signIn("ada", "correct horse battery")
    expect(right.status).toBe(303)
    const rows = await auditRows("signIn")
    expect(rows.filter((r) => r.operator === "ada").map((r) => r.outcome)).toEqual(["refused", "ok"])
    expect(rows.find((r) => r.operator === "nobody")?.outcome).toBe("refused")
    expect(rows.find((r) => r.operator === "ada" && r.outcome === "ok")?.role).toBe("admin")
  })

  it("limits sign-in attempts per address, shared by every name, with Retry-After", async () => {
    const b = browser()
    for (let i = 0; i < 4; i++) expect((await b.signIn(`guess${i}`, "wrong password here")).status).toBe(401)
    const limited = await b.signIn("", ADMIN_TOKEN) // even the right token waits now
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(b.cookie()).toBeUndefined()
    // another address is not held back
    expect((await browser().signIn("", ADMIN_TOKEN)).status).toBe(303)
  })

  it("changes a job only with the session's CSRF token, from this origin; each refusal changes nothing", async () => {
    const b = browser()
    await b.signIn("", ADMIN_TOKEN)
    const id = await scheduledJob()
    const page = await b.get(`/admin/jobs/${id}`)
    const csrf = b.csrfOf(await page.text())
    expect(csrf).toBeDefined()

    const noToken = await b.post(`/admin/jobs/${id}/cancel`, {}, { csrf: null })
    expect(noToken.status).toBe(403)
    const otherSession = await b.post(`/admin/jobs/${id}/cancel`, {}, { csrf: "A".repeat(43) })
    expect(otherSession.status).toBe(403)
    const otherSite = await b.post(`/admin/jobs/${id}/cancel`, {}, { origin: "https://evil.example" })
    expect(otherSite.status).toBe(403)
    const crossSite = await b.post(`/admin/jobs/${id}/cancel`, {}, { origin: null, headers: { "sec-fetch-site": "cross-site" } })
    expect(crossSite.status).toBe(403)
    expect(await stateOf(id)).toBe("scheduled")

    const done = await b.post(`/admin/jobs/${id}/cancel`, { back: `/admin/jobs/${id}` })
    expect(done.status).toBe(303)
    expect(done.headers.get("location")).toMatch(new RegExp(`^/admin/jobs/${id}\\?notice=`))
    expect(await stateOf(id)).toBe("cancelled")
    const rows = (await auditRows("cancelJob")).filter((r) => r.target === `job:${id}`)
    expect(rows.map((r) => r.outcome)).toEqual(["refused", "refused", "ok"]) // other sites' posts are not operators' actions: they never reach the token check
    expect(rows.at(-1)?.operator).toBe("admin-token")
    expect(rows.at(-1)?.ip).toMatch(/^198\.51\.100\./)
  })

  it("a viewer sees every page with its buttons disabled, and the server refuses its changes", async () => {
    await addAccount("vic", "viewer", "read only but long")
    const b = browser()
    expect((await b.signIn("vic", "read only but long")).status).toBe(303)
    const id = await scheduledJob()
    const page = await b.get(`/admin/jobs/${id}`)
    const html = await page.text()
    expect(html).toContain("read-only")
    expect(html).toMatch(/<button type="submit"[^>]*disabled/)
    const refused = await b.post(`/admin/jobs/${id}/cancel`)
    expect(refused.status).toBe(403)
    expect(await stateOf(id)).toBe("scheduled")
    expect((await auditRows("cancelJob")).filter((r) => r.target === `job:${id}`).map((r) => [r.operator, r.outcome])).toEqual([["vic", "refused"]])
  })

  it("signing out ends the session everywhere; changing an account's password ends its sessions", async () => {
    const b = browser()
    await b.signIn("", ADMIN_TOKEN)
    const kept = b.cookie() ?? ""
    await b.get("/admin")
    const out = await b.post("/admin/sign-out")
    expect(out.status).toBe(303)
    expect(b.cookie()).toBeUndefined()
    const replayed = await fetch(`${app.baseUrl}/admin`, { redirect: "manual", headers: { cookie: kept } })
    expect(replayed.status).toBe(303)

    await addAccount("eve", "admin", "first password long")
    const e = browser()
    await e.signIn("eve", "first password long")
    expect((await e.get("/admin")).status).toBe(200)
    await addAccount("eve", "admin", "second password long")
    expect((await e.get("/admin")).status).toBe(303)
  })

  it("serves every page with a CSP that allows no inline code", async () => {
    const b = browser()
    await b.signIn("", ADMIN_TOKEN)
    for (const path of ["/admin", "/admin/callbacks", "/admin/jobs", "/admin/queues", "/admin/crons", "/admin/workers", "/admin/businesses", "/admin/businesses/new", "/admin/audit"]) {
      const response = await b.get(path)
      expect(response.status, path).toBe(200)
      const csp = response.headers.get("content-security-policy") ?? ""
      expect(csp, path).toContain("script-src 'self'")
      expect(csp, path).not.toContain("unsafe-inline")
      const html = await response.text()
      expect(html, path).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/)
      expect(html, path).not.toMatch(/\sstyle="/)
    }
  })

  it("shows each worker with the version and runtime it runs", async () => {
    const b = browser()
    await b.signIn("", ADMIN_TOKEN)
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }
    const html = await (await b.get("/admin/workers")).text()
    expect(html).toContain(`${pkg.version}<span class="hint"> ${thisRuntime}</span>`)
  })
})
