/**
 * A process starting on a database whose migrations are not applied yet (another replica
 * holds the migration lock, or a long migration runs): it listens for the probes at once,
 * `/livez` 200 and `/readyz` 503, and everything else is a 503 with `Retry-After` until
 * its migrations are in, never a 500 from a table that does not exist yet.
 */
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN } from "../support/app.ts"
import { emptyDatabase, eventually } from "../support/database.ts"
import { spawnApp } from "../support/processes.ts"

const MIGRATION_LOCK = 7_374_211_001 // infra/db/Migrator.ts

describe("a process whose migrations wait for the lock", () => {
  let url: string
  let holder: pg.Client
  beforeAll(async () => {
    url = await emptyDatabase()
    holder = new pg.Client({ connectionString: url })
    await holder.connect()
  })
  afterAll(() => holder.end())

  it("answers the probes, refuses the API with 503 + Retry-After, and serves once migrated", { timeout: 60_000 }, async () => {
    await holder.query("BEGIN")
    await holder.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK])
    const app = spawnApp(url, { ROLE: "all", ADMIN_TOKEN })
    const base = await app.baseUrl()
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }
    const business = () => fetch(`${base}/admin/api/businesses`, { method: "POST", headers: admin, body: JSON.stringify({ name: "Early", phone: "+14155550100", timezone: "UTC" }) })

    expect((await fetch(`${base}/livez`)).status).toBe(200)
    expect((await fetch(`${base}/readyz`)).status).toBe(503)
    for (const early of [await business(), await fetch(`${base}/v1/callbacks/${crypto.randomUUID()}`)]) {
      expect(early.status).toBe(503)
      expect(early.headers.get("content-type")).toContain("application/problem+json")
      expect(early.headers.get("retry-after")).toBe("2")
      expect(((await early.json()) as { type: string; detail: string }).type).toBe("/problems/unavailable")
    }
    expect(app.output()).not.toContain("relation")

    await holder.query("COMMIT")
    await eventually(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 30_000, "/readyz 200 once migrated")
    expect((await business()).status).toBe(201)
  })
})
