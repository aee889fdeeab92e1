import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningApp, startApp } from "../../support/app.ts"
import { cloneDatabase } from "../../support/database.ts"

describe("GET /admin, the dashboard", () => {
  let app: RunningApp
  let worker: RunningApp
  beforeAll(async () => {
    const url = await cloneDatabase()
    app = await startApp({ databaseUrl: url })
    worker = await startApp({ databaseUrl: url, role: "worker" })
  })
  afterAll(async () => {
    await worker.dispose()
    await app.dispose()
  })

  it("is an HTML page without data whose only script is the one its CSP allows", async () => {
    const response = await app.request("/admin")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    const html = await response.text()
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? "")
    expect(scripts).toHaveLength(1)
    const hash = createHash("sha256").update(scripts[0] ?? "").digest("base64")
    const csp = response.headers.get("content-security-policy") ?? ""
    expect(csp).toContain(`script-src 'sha256-${hash}'`)
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("connect-src 'self'")
    expect(html).not.toContain("innerHTML") // everything shown is inserted as text
  })

  it("leaves the data behind the token, and is not served by workers", async () => {
    expect((await app.request("/admin/api/queues")).status).toBe(401)
    expect((await app.request("/admin/api/queues", { admin: true })).status).toBe(200)
    expect((await worker.request("/admin")).status).toBe(404)
  })
})
