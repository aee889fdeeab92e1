/**
 * The list filters operators search with, through the admin API: jobs by text
 * in their arguments, callback requests by creation time and by text in the
 * visitor's name or note. Text is matched literally (LIKE's `%` and `_` are
 * not wildcards) and case-insensitively.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, query } from "../../support/database.ts"

describe("list filters", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url })
  }, 60_000)
  afterAll(async () => {
    await app.dispose()
  })

  const ids = async (path: string) => {
    const response = await app.request(path, { admin: true })
    expect(response.status, path).toBe(200)
    return ((await response.json()) as { items: ReadonlyArray<{ id: string }> }).items.map((i) => i.id).sort()
  }

  it("finds jobs by text in their arguments, wildcards taken literally", async () => {
    const enqueue = async (message: string) => {
      const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify({ kind: "diagnostics.ping", args: { message }, delaySeconds: 3600 }) })
      return ((await response.json()) as { id: string }).id
    }
    const plain = await enqueue("Invoice 42 for ACME")
    const percent = await enqueue("100% done")
    const other = await enqueue("something else")
    expect(await ids("/admin/api/jobs?q=acme")).toEqual([plain])
    expect(await ids(`/admin/api/jobs?q=${encodeURIComponent("100%")}`)).toEqual([percent])
    expect(await ids(`/admin/api/jobs?q=${encodeURIComponent("%")}`)).toEqual([percent]) // not "anything"
    expect(await ids(`/admin/api/jobs?q=${encodeURIComponent("e_se")}`)).toEqual([]) // `_` is not "any character"
    expect(await ids("/admin/api/jobs?q=else&kind=diagnostics.ping")).toEqual([other])
    expect((await app.request("/admin/api/jobs?q=", { admin: true })).status).toBe(400)
  })

  it("finds callback requests by creation time and by text in the visitor's name or note", async () => {
    const business = await app.createBusiness()
    const create = async (name: string, note?: string) => {
      const response = await app.request("/v1/callbacks", { method: "POST", admin: true, body: JSON.stringify({ businessId: business.id, phone: freshNumber(), name, ...(note === undefined ? {} : { note }) }) })
      expect(response.status).toBe(202)
      return ((await response.json()) as { id: string }).id
    }
    const ada = await create("Ada Lovelace")
    const noted = await create("Grace", "about the LOVELACE account")
    const bob = await create("Bob")
    await query(url, "UPDATE callback_requests SET created_at = '2026-01-01T10:00:00Z' WHERE id = $1", [bob])
    const base = `/admin/api/callbacks?businessId=${business.id}`
    expect(await ids(`${base}&q=lovelace`)).toEqual([ada, noted].sort())
    expect(await ids(`${base}&createdBefore=2026-01-02T00:00:00Z`)).toEqual([bob])
    expect(await ids(`${base}&createdFrom=2026-01-01T10:00:00Z&createdBefore=2026-01-01T10:00:00.001Z`)).toEqual([bob])
    expect(await ids(`${base}&createdFrom=2026-01-02T00:00:00Z`)).toEqual([ada, noted].sort())
    expect((await app.request(`${base}&createdFrom=yesterday`, { admin: true })).status).toBe(400)
  })
})
