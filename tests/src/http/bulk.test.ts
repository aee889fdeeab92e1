/**
 * Bulk operations over the admin API, carried out by the `admin.bulk` job in
 * batches: the preview's counts, a start refused when the confirmed count is
 * no longer true (nothing changes), and an operation that crosses batch and
 * run boundaries (more rows than one run's batches) finishing with every
 * matching job or callback request changed once and nothing else touched.
 * Input that is not valid is a 4xx problem and changes nothing; each bulk
 * action, done or refused, through the API or the console, is an audit row.
 * The console's callbacks page leads to the same operations: the filter's
 * controls and the rows' checkboxes, the review with its count, a stale count
 * refused, the operation's page until it has finished.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BATCH, BATCHES_PER_RUN, CALLBACK_BATCH } from "../../../src/jobs/BulkOperations.ts"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { type CallbackApp, startCallbackApp } from "../../support/callbacks.ts"
import { consoleClient } from "../../support/console.ts"
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

describe("bulk operations on callback requests", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url })
  }, 60_000)
  afterAll(async () => {
    await app.dispose()
  })

  const post = (path: string, body: unknown) => app.request(path, { method: "POST", admin: true, body: typeof body === "string" ? body : JSON.stringify(body) })
  let numbers = 0
  /** `n` requests of `businessId` in `status` (each with a number of its own), their note tagged; verified when `verified`. */
  const insert = async (businessId: string, n: number, status: string, tag: string, verified = false) => {
    const prefix = `+1415${String(7000 + numbers++)}`
    const rows = await query<{ id: string }>(
      url,
      `INSERT INTO callback_requests (id, business_id, phone, name, note, status, finished_at)
       SELECT gen_random_uuid(), $1::uuid, $2 || lpad(n::text, 4, '0'), 'Ada', $3, $4,
              CASE WHEN $4 IN ('completed', 'failed', 'cancelled', 'expired') THEN now() END
         FROM generate_series(1, $5::int) AS n
       RETURNING id::text`,
      [businessId, prefix, `tag ${tag}`, status, n]
    )
    await query(url, "INSERT INTO verifications (callback_id, used_at) SELECT unnest($1::uuid[]), CASE WHEN $2 THEN now() END", [rows.map((r) => r.id), verified])
    return rows.map((r) => r.id)
  }
  const statuses = async (tag: string) =>
    Object.fromEntries((await query<{ status: string; n: string }>(url, "SELECT status, count(*) AS n FROM callback_requests WHERE note = $1 GROUP BY status", [`tag ${tag}`])).map((r) => [r.status, Number(r.n)]))
  const finished = (path: string) =>
    eventually(
      async () => {
        const current = (await (await app.request(path, { admin: true })).json()) as { changed: number; matched: number; finishedAt?: string }
        return current.finishedAt === undefined ? undefined : current
      },
      90_000,
      `${path} to finish`
    )
  const operations = async () => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM bulk_operations"))[0]?.n)
  const audit = (action: string) =>
    query<{ outcome: string; via: string; detail: Record<string, unknown> }>(url, "SELECT outcome, via, detail FROM operator_audit WHERE action = $1 ORDER BY operator_audit.id", [action])

  it("previews, refuses a count that is no longer true, and cancels every matching request across batches and runs, each as a single cancel would", async () => {
    const business = await app.createBusiness()
    const other = await app.createBusiness()
    const many = CALLBACK_BATCH * BATCHES_PER_RUN + 7 // more than one run of the job does
    await insert(business.id, many, "queued", "many")
    await insert(business.id, 3, "completed", "many") // matched, but a finished request cannot be cancelled
    await insert(other.id, 5, "queued", "many") // another business: not matched
    const filter = { businessId: business.id, q: "tag many" }

    const preview = await post("/admin/api/callback-bulk-operations/preview", { action: "cancel", filter })
    expect(preview.status).toBe(200)
    expect(await preview.json()).toEqual({ matched: many + 3, applicable: many })

    const stale = await post("/admin/api/callback-bulk-operations", { action: "cancel", filter, expectedCount: many })
    expect(stale.status).toBe(409)
    expect(stale.headers.get("content-type")).toBe("application/problem+json")
    expect(await stale.json()).toMatchObject({ type: "/problems/conflict", matched: many + 3 })
    expect(await operations()).toBe(0)

    const started = await post("/admin/api/callback-bulk-operations", { action: "cancel", filter, expectedCount: many + 3 })
    expect(started.status).toBe(202)
    const op = (await started.json()) as { id: string; target: string; matched: number; changed: number; filter: unknown }
    expect(op).toMatchObject({ target: "callbacks", matched: many + 3, changed: 0, filter })
    const done = await finished(`/admin/api/callback-bulk-operations/${op.id}`)
    expect(done.changed).toBe(many)
    const rows = await query<{ business_id: string; status: string; n: string }>(url, "SELECT business_id::text, status, count(*) AS n FROM callback_requests WHERE note = 'tag many' GROUP BY 1, 2 ORDER BY 1, 2")
    expect(Object.fromEntries(rows.map((r) => [`${r.business_id === business.id ? "mine" : "other"} ${r.status}`, Number(r.n)]))).toEqual({ "mine cancelled": many, "mine completed": 3, "other queued": 5 })
    // each cancelled as `POST /admin/api/callbacks/{id}/cancel` cancels: one history event (what the live streams and webhooks read)
    const events = await query<{ type: string; n: string }>(
      url,
      "SELECT e.type, count(*) AS n FROM callback_events e JOIN callback_requests r ON r.id = e.callback_id WHERE r.note = 'tag many' GROUP BY e.type"
    )
    expect(events.map((e) => [e.type, Number(e.n)])).toEqual([["callback.cancelled", many]])
    const runs = await query<{ attempt: number; state: string }>(url, "SELECT attempt, state FROM jobs WHERE kind = 'admin.bulk'")
    expect(runs).toEqual([{ attempt: 1, state: "completed" }]) // snoozed between runs, never failed
    // the jobs' routes do not show it, and the callbacks' do not show a jobs operation
    expect((await app.request(`/admin/api/bulk-operations/${op.id}`, { admin: true })).status).toBe(404)
    expect((await audit("previewCallbackBulkOperation")).map((r) => [r.outcome, r.via])).toEqual([["ok", "api"]])
    expect((await audit("startCallbackBulkOperation")).map((r) => [r.outcome, r.via, r.detail["status"]])).toEqual([
      ["refused", "api", 409],
      ["ok", "api", 202]
    ])
  }, 120_000)

  it("retries the selected requests that may be retried and leaves the others as they are", async () => {
    const business = await app.createBusiness()
    const [dead = ""] = await insert(business.id, 1, "failed", "retry", true)
    const [unverified = ""] = await insert(business.id, 1, "cancelled", "retry", false) // never verified: nobody may be called
    const [busy = ""] = await insert(business.id, 1, "dialing", "retry", true) // not finished: nothing to retry
    const body = { action: "retry", filter: { ids: [dead, unverified, busy] } }
    expect(await (await post("/admin/api/callback-bulk-operations/preview", body)).json()).toEqual({ matched: 3, applicable: 2 })
    const started = await post("/admin/api/callback-bulk-operations", { ...body, expectedCount: 3 })
    expect(started.status).toBe(202)
    const done = await finished(`/admin/api/callback-bulk-operations/${((await started.json()) as { id: string }).id}`)
    expect(done).toMatchObject({ matched: 3, changed: 1 })
    const rows = await query<{ id: string; status: string; generation: number }>(url, "SELECT id::text, status, generation FROM callback_requests WHERE id = ANY($1::uuid[])", [[dead, unverified, busy]])
    expect(Object.fromEntries(rows.map((r) => [r.id, r.generation === 1 ? "retried" : r.status]))).toEqual({ [dead]: "retried", [unverified]: "cancelled", [busy]: "dialing" })
    // as `POST /admin/api/callbacks/{id}/retry` does: its history says so, and a dial of its new generation was enqueued (which this process runs)
    expect((await query(url, "SELECT type FROM callback_events WHERE callback_id = $1 ORDER BY seq", [dead]))[0]).toEqual({ type: "callback.retried" })
    expect(await query(url, "SELECT callback_id FROM callback_events WHERE callback_id = ANY($1::uuid[])", [[unverified, busy]])).toEqual([])
    expect(await query(url, "SELECT (args->>'generation')::int AS generation FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = $1", [dead])).toEqual([{ generation: 1 }])
  }, 60_000)

  it("answers 4xx problems for input it cannot read, and 404 for an operation that does not exist, changing nothing", async () => {
    const before = await operations()
    const refused: Array<[unknown, number, string]> = [
      [{ action: "delete", filter: {} }, 400, "validation"], // callback requests are retried or cancelled, never deleted
      [{ action: "cancel", filter: { status: "asleep" } }, 400, "validation"],
      [{ action: "cancel", filter: { phone: "0415 555" } }, 400, "validation"],
      [{ action: "cancel", filter: { businessId: "acme" } }, 400, "validation"],
      [{ action: "cancel", filter: { createdFrom: "yesterday" } }, 400, "validation"],
      [{ action: "cancel", filter: { ids: [] } }, 400, "validation"],
      [{ action: "cancel", filter: { ids: ["42"] } }, 400, "validation"],
      [{ action: "cancel", filter: { state: "discarded" } }, 400, "validation"], // a jobs filter's field
      [{ action: "cancel", filter: {}, expectedCount: -1 }, 400, "validation"],
      [{ action: "cancel" }, 400, "validation"],
      ['{"action": "cancel", ', 400, "malformed-body"]
    ]
    for (const [body, status, slug] of refused) {
      for (const path of ["/admin/api/callback-bulk-operations", "/admin/api/callback-bulk-operations/preview"]) {
        const response = await post(path, body)
        expect({ path, body, status: response.status }).toEqual({ path, body, status })
        expect(response.headers.get("content-type")).toBe("application/problem+json")
        expect(((await response.json()) as { type: string }).type).toBe(`/problems/${slug}`)
      }
    }
    expect((await app.request("/admin/api/callback-bulk-operations/00000000-0000-4000-8000-000000000000", { admin: true })).status).toBe(404)
    expect((await app.request("/admin/api/callback-bulk-operations/not-an-id", { admin: true })).status).toBe(404)
    expect((await post("/admin/api/callback-bulk-operations", { action: "cancel", filter: { q: "no such note" }, expectedCount: 0 })).status).toBe(202)
    expect(await operations()).toBe(before + 1) // only the valid one
  })

  it("from the console: the callbacks page's controls, the review's count, a stale count refused, the operation's page until it has finished, each audited", async () => {
    const business = await app.createBusiness({ name: "Bulk Console Ltd" })
    const queued = await insert(business.id, 4, "queued", "console")
    const browser = consoleClient(app.baseUrl)
    expect((await browser.signIn("", ADMIN_TOKEN)).status).toBe(303)

    const list = await (await browser.get(`/admin/callbacks?businessId=${business.id}&status=queued`)).text()
    expect(list).toContain('aria-label="Act on every callback request this filter matches"')
    for (const id of queued) expect(list).toContain(`name="ids" value="${id}" form="callback-selection"`)

    const review = await browser.get(`/admin/callbacks/bulk?action=cancel&businessId=${business.id}&status=queued`)
    expect(review.status).toBe(200)
    expect(await review.text()).toContain("Cancel 4 callback requests matching status queued, business Bulk Console Ltd? 4 of them are in a status cancel applies to")
    const selected = await (await browser.get(`/admin/callbacks/bulk?action=cancel&ids=${queued[0] ?? ""}&ids=${queued[1] ?? ""}`)).text()
    expect(selected).toContain("Cancel 2 callback requests matching the 2 selected?")

    const fields = { action: "cancel", businessId: business.id, status: "queued" }
    const stale = await browser.post("/admin/callbacks/bulk", { ...fields, expectedCount: "3" })
    expect(stale.status).toBe(409)
    expect(await statuses("console")).toEqual({ queued: 4 })
    const started = await browser.post("/admin/callbacks/bulk", { ...fields, expectedCount: "4" })
    expect(started.status).toBe(303)
    const to = started.headers.get("location") ?? ""
    expect(to).toMatch(/^\/admin\/bulk\/[0-9a-f-]{36}\?notice=/)
    const page = await eventually(
      async () => {
        const text = await (await browser.get(to)).text()
        return text.includes('data-finished="yes"') ? text : undefined
      },
      30_000,
      "the operation's page to say it has finished"
    )
    expect(page).toContain("4 changed")
    expect(page).toContain("Cancel of 4 callback requests")
    expect(await statuses("console")).toEqual({ cancelled: 4 })
    const fromConsole = (await audit("startCallbackBulkOperation")).filter((r) => r.via === "console")
    expect(fromConsole.map((r) => [r.outcome, r.detail["matched"] ?? r.detail["problem"]])).toEqual([
      ["refused", "conflict"],
      ["ok", 4]
    ])
  }, 60_000)
})
