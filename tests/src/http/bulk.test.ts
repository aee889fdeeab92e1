/**
 * Bulk operations over the admin API, carried out by the `admin.bulk` job in
 * batches: the preview's counts, a start refused when the confirmed count is
 * no longer true (nothing changes), and an operation that crosses batch and
 * run boundaries (more jobs than one run's batches) finishing with every
 * matching job changed once and nothing else touched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BATCH, BATCHES_PER_RUN } from "../../../src/jobs/BulkOperations.ts"
import { type CallbackApp, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"

describe("bulk operations over the admin API", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url })
  }, 60_000)
  afterAll(async () => {
    await app.dispose()
  })

  const post = (path: string, body: unknown) => app.request(path, { method: "POST", admin: true, body: JSON.stringify(body) })
  /** `n` jobs in `state` of a kind no process runs (queue `parked`), their arguments tagged. */
  const park = (n: number, state: string, tag: string) =>
    query(
      url,
      `INSERT INTO jobs (queue, kind, args, state, attempt, max_attempts, run_at, finished_at)
       SELECT 'parked', 'parked.job', jsonb_build_object('tag', $1::text, 'n', n), $2::job_state, 1, 1, now() + interval '1 day',
              CASE WHEN $2 IN ('completed', 'discarded', 'cancelled') THEN now() END
         FROM generate_series(1, $3::int) AS n`,
      [tag, state, n]
    )
  const states = async (tag: string) =>
    Object.fromEntries((await query<{ state: string; n: string }>(url, "SELECT state, count(*) AS n FROM jobs WHERE args->>'tag' = $1 GROUP BY state", [tag])).map((r) => [r.state, Number(r.n)]))

  it("previews, refuses a count that is no longer true, and cancels every matching job across batches and runs", async () => {
    const many = BATCH * BATCHES_PER_RUN + 7 // more than one run of the job does
    await park(many, "scheduled", "many")
    await park(3, "completed", "many") // matched, but cancel does not apply to finished jobs
    await park(5, "scheduled", "other") // not matched
    const filter = { queue: "parked", q: "\"many\"" }

    const preview = await post("/admin/api/bulk-operations/preview", { action: "cancel", filter })
    expect(preview.status).toBe(200)
    expect(await preview.json()).toEqual({ matched: many + 3, applicable: many })

    const stale = await post("/admin/api/bulk-operations", { action: "cancel", filter, expectedCount: 12 })
    expect(stale.status).toBe(409)
    expect(await states("many")).toEqual({ scheduled: many, completed: 3 })

    const started = await post("/admin/api/bulk-operations", { action: "cancel", filter, expectedCount: many + 3 })
    expect(started.status).toBe(202)
    const op = (await started.json()) as { id: string; matched: number; changed: number }
    expect(op).toMatchObject({ matched: many + 3, changed: 0 })
    const done = await eventually(
      async () => {
        const current = (await (await app.request(`/admin/api/bulk-operations/${op.id}`, { admin: true })).json()) as { changed: number; finishedAt?: string }
        return current.finishedAt === undefined ? undefined : current
      },
      60_000,
      "the bulk operation to finish"
    )
    expect(done.changed).toBe(many)
    expect(await states("many")).toEqual({ cancelled: many, completed: 3 })
    expect(await states("other")).toEqual({ scheduled: 5 })
    const runs = await query<{ attempt: number; state: string }>(url, "SELECT attempt, state FROM jobs WHERE kind = 'admin.bulk'")
    expect(runs).toEqual([{ attempt: 1, state: "completed" }]) // snoozed between runs, never failed
  })

  it("answers 404 for an operation that does not exist, and 400 for a filter it cannot read", async () => {
    expect((await app.request("/admin/api/bulk-operations/00000000-0000-4000-8000-000000000000", { admin: true })).status).toBe(404)
    expect((await post("/admin/api/bulk-operations", { action: "explode", filter: {} })).status).toBe(400)
    expect((await post("/admin/api/bulk-operations", { action: "retry", filter: { ids: [] } })).status).toBe(400)
  })
})
