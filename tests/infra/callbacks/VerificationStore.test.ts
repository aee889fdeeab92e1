/**
 * The verification store against real Postgres: a request's row starts with
 * no code and one send, issued when the request was created; a text's code is
 * stored (with its message row) only while the request awaits verification and
 * that issue is the unused one in force; checks count; a use clears the code;
 * a reissue resets the code and checks and records the send.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { VerificationStore } from "../../../infra/callbacks/VerificationStore.ts"
import { callbackStoresRuntime, pendingRequest } from "../../support/callbackStores.ts"
import { cloneDatabase, query } from "../../support/database.ts"

let url: string
let runtime: ReturnType<typeof callbackStoresRuntime>
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = callbackStoresRuntime(url)
})
afterAll(() => runtime.dispose())

const verifications = <A, E>(f: (store: VerificationStore) => Effect.Effect<A, E>) => runtime.runPromise(Effect.flatMap(VerificationStore, f))
const current = (id: string) => verifications((s) => s.lock(id)).then(Option.getOrThrow)
const issuedAt = (id: string) => verifications((s) => s.issuedAt(id)).then(Option.getOrThrow)
/** Prepares the text of `codeHash` for the issue at `at`; the phone it goes to, undefined when refused, and whether its row was written. */
const prepare = async (callbackId: string, at: Date, codeHash: string) => {
  const messageId = randomUUID()
  const phone = Option.getOrUndefined(await verifications((s) => s.prepareText({ callbackId, issuedAt: at, codeHash, messageId })))
  const rows = await query<{ to_phone: string; kind: string }>(url, "SELECT to_phone, kind FROM sms_messages WHERE id = $1", [messageId])
  return { phone, rows }
}

describe("verification store", () => {
  it("prepares a text for the issue in force while pending and unused, counts checks, clears the code on use and keeps it cleared", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const at = await issuedAt(request.id)
    expect(at).toEqual(request.createdAt) // the create's job names its issue by the request's creation
    expect(await prepare(request.id, at, "h1")).toEqual({ phone: request.phone, rows: [{ to_phone: request.phone, kind: "verification" }] })
    await verifications((s) => s.countCheck(request.id))
    expect(await current(request.id)).toMatchObject({ codeHash: "h1", checks: 1, usedAt: undefined })
    // an issue a millisecond off is another issue: nothing stored, nothing recorded
    expect(await prepare(request.id, new Date(at.getTime() + 1), "other")).toEqual({ phone: undefined, rows: [] })
    expect((await current(request.id)).codeHash).toBe("h1")
    await verifications((s) => s.markVerified(request.id))
    const used = await current(request.id)
    expect(used.codeHash).toBeUndefined()
    expect(used.usedAt).toBeInstanceOf(Date)
    expect(await prepare(request.id, at, "h2")).toEqual({ phone: undefined, rows: [] })
    expect((await current(request.id)).codeHash).toBeUndefined()
    expect(Option.isNone(await verifications((s) => s.issuedAt(request.id)))).toBe(true)
  })

  it("prepares no text for a request that no longer awaits verification", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    await query(url, "UPDATE callback_requests SET status = 'cancelled' WHERE id = $1", [request.id])
    expect(await prepare(request.id, await issuedAt(request.id), "h1")).toEqual({ phone: undefined, rows: [] })
    expect((await current(request.id)).codeHash).toBeUndefined()
  })

  it("a reissue drops the code, resets the checks and records the send; the old issue's text is refused", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    const first = await issuedAt(request.id)
    await prepare(request.id, first, "h1")
    await verifications((s) => s.countCheck(request.id))
    const reissued = await verifications((s) => s.reissue(request.id))
    const after = await current(request.id)
    expect(after).toMatchObject({ codeHash: undefined, checks: 0, issuedAt: reissued })
    expect(after.sends).toHaveLength(2)
    expect(await prepare(request.id, first, "h1")).toEqual({ phone: undefined, rows: [] })
    expect((await prepare(request.id, reissued, "h2")).phone).toBe(request.phone)
    expect(Option.isNone(await verifications((s) => s.lock("00000000-0000-4000-8000-000000000000")))).toBe(true)
  })
})
