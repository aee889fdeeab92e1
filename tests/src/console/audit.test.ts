/**
 * The audit trail: every admin API request that may change something leaves
 * one row named by its operation id, with its target and outcome (a refusal
 * too, a request without the token not at all); the same vocabulary as the
 * console's actions; listed newest first by operator and action through the
 * admin API and exported as JSON from the console.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { targetOf } from "../../../src/http/Audited.ts"
import { ADMIN_TOKEN, type RunningApp, startApp } from "../../support/app.ts"
import { consoleClient } from "../../support/console.ts"
import { cloneDatabase, query } from "../../support/database.ts"

interface Entry {
  readonly id: string
  readonly operator: string
  readonly role?: string
  readonly via: string
  readonly action: string
  readonly target?: string
  readonly outcome: string
  readonly detail: Record<string, unknown>
}

describe("the audit trail", () => {
  let app: RunningApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startApp({ databaseUrl: url })
  }, 60_000)
  afterAll(async () => {
    await app.dispose()
  })

  const list = async (params = "") => {
    const response = await app.request(`/admin/api/audit${params}`, { admin: true })
    expect(response.status).toBe(200)
    return (await response.json()) as { items: ReadonlyArray<Entry>; nextCursor?: string }
  }
  const enqueue = async () => {
    const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "test.tick", delaySeconds: 3600 }) })
    return ((await response.json()) as { id: string }).id
  }

  it("names a change by the resource its path names first", () => {
    expect(targetOf("/admin/api/jobs/{id}/retry", { id: "42" })).toBe("job:42")
    expect(targetOf("/admin/api/businesses/{businessId}/webhooks", { businessId: "b" })).toBe("business:b")
    expect(targetOf("/admin/api/processes/{id}/drain", { id: "p" })).toBe("process:p")
    expect(targetOf("/admin/api/queues/{queue}/pause", { queue: "calls" })).toBe("queue:calls")
    expect(targetOf("/admin/api/jobs", {})).toBeUndefined()
  })

  it("records an action whatever its request carried: a NUL in the path is kept as U+FFFD, not a lost row (found by the fuzz suite)", async () => {
    const response = await app.request("/admin/api/jobs/a%00b/retry", { method: "POST", admin: true })
    expect(response.status).toBe(404)
    expect(response.headers.get("warning")).toBeNull()
    const [entry] = (await list("?action=retryJob")).items
    expect(entry).toMatchObject({ action: "retryJob", target: "job:a\uFFFDb", outcome: "refused", detail: { status: 404 } })
  })

  it("records each admin API change once it is answered, refusals included; reads and requests without the token are not actions", async () => {
    const id = await enqueue()
    expect((await app.request(`/admin/api/jobs/${id}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    expect((await app.request(`/admin/api/jobs/${id}/cancel`, { method: "POST", admin: true })).status).toBe(409) // cancelled already
    expect((await app.request(`/admin/api/jobs/${id}/cancel`, { method: "POST" })).status).toBe(401)
    expect((await app.request(`/admin/api/jobs/${id}`, { admin: true })).status).toBe(200)

    const rows = await query<{ operator: string; via: string; action: string; target: string | null; outcome: string; detail: { status: number } }>(
      url,
      "SELECT operator, via, action, target, outcome, detail FROM operator_audit WHERE target = $1 OR action = 'enqueueJob' ORDER BY id",
      [`job:${id}`]
    )
    expect(rows.map((r) => [r.action, r.target, r.outcome, r.detail.status])).toEqual([
      ["enqueueJob", null, "ok", 201],
      ["cancelJob", `job:${id}`, "ok", 200],
      ["cancelJob", `job:${id}`, "refused", 409]
    ])
    expect(new Set(rows.map((r) => `${r.operator}/${r.via}`))).toEqual(new Set(["admin-token/api"]))
  })

  it("lists newest first, by action and operator, a page at a time", async () => {
    for (let i = 0; i < 3; i++) await enqueue()
    const all = await list("?action=enqueueJob&limit=2")
    expect(all.items).toHaveLength(2)
    expect(all.items.every((e) => e.action === "enqueueJob")).toBe(true)
    expect(Number(all.items[0]?.id)).toBeGreaterThan(Number(all.items[1]?.id))
    const next = await list(`?action=enqueueJob&limit=2&cursor=${all.nextCursor ?? ""}`)
    expect(Number(next.items[0]?.id)).toBeLessThan(Number(all.items[1]?.id))
    expect((await list("?operator=nobody")).items).toEqual([])
    expect((await app.request("/admin/api/audit?action=job.retry!", { admin: true })).status).toBe(400)
  })

  it("exports the console's view as JSON, and records the console's actions in the same words", async () => {
    const browser = consoleClient(app.baseUrl)
    expect((await browser.signIn("", ADMIN_TOKEN)).status).toBe(303)
    const id = await enqueue()
    await browser.get(`/admin/jobs/${id}`)
    expect((await browser.post(`/admin/jobs/${id}/cancel`)).status).toBe(303)
    expect((await browser.post(`/admin/jobs/${id}/cancel`)).status).toBe(409) // cancelled already: refused, as through the API
    const twice = await query<{ outcome: string; detail: { problem?: string } }>(url, "SELECT outcome, detail FROM operator_audit WHERE via = 'console' AND target = $1 ORDER BY id", [`job:${id}`])
    expect(twice.map((r) => [r.outcome, r.detail.problem])).toEqual([
      ["ok", undefined],
      ["refused", "conflict"]
    ])
    const exported = await browser.get("/admin/audit/export?action=cancelJob")
    expect(exported.status).toBe(200)
    expect(exported.headers.get("content-disposition")).toContain("attachment")
    const body = (await exported.json()) as { items: ReadonlyArray<Entry> }
    expect(body.items.slice(0, 2)).toMatchObject([
      { operator: "admin-token", role: "admin", via: "console", action: "cancelJob", target: `job:${id}`, outcome: "refused" },
      { operator: "admin-token", role: "admin", via: "console", action: "cancelJob", target: `job:${id}`, outcome: "ok" }
    ])
    const page = await browser.get("/admin/audit?action=cancelJob")
    expect(await page.text()).toContain(`job:${id}`)
  })
})
