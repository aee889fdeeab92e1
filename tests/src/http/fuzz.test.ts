import { afterAll, beforeAll, it } from "vitest"
import { type RunningApp, startApp } from "../../support/app.ts"
import { cloneDatabase } from "../../support/database.ts"

let app: RunningApp
beforeAll(async () => {
  app = await startApp({ databaseUrl: await cloneDatabase(), role: "web" })
})
afterAll(() => app?.dispose())

it("probe", async () => {
  const cases: Array<[string, string, string | undefined]> = [0.0001, 0.0005, 0.0015, 0.001, 1.1, 1.0001, 2.5, 0.3, 12.3456, 1e-7].map((d) => ["POST", "/admin/api/jobs", JSON.stringify({ kind: "test.ledger", delaySeconds: d })])
  for (const [method, path, body] of cases) {
    const r = await app.request(path, { method, admin: true, body })
    console.log(method, path, body, "->", r.status, r.headers.get("content-type"), (await r.text()).slice(0, 300))
  }
})
