/**
 * The verification store against real Postgres: a request's row starts with
 * no code and one send; a code is stored only while unused; checks count; a
 * use clears the code; a reissue resets the code and checks and records the send.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { VerificationStore } from "../../../infra/callbacks/VerificationStore.ts"
import { callbackStoresRuntime, pendingRequest } from "../../support/callbackStores.ts"
import { cloneDatabase } from "../../support/database.ts"

let runtime: ReturnType<typeof callbackStoresRuntime>
beforeAll(async () => {
  runtime = callbackStoresRuntime(await cloneDatabase())
})
afterAll(() => runtime.dispose())

const verifications = <A, E>(f: (store: VerificationStore) => Effect.Effect<A, E>) => runtime.runPromise(Effect.flatMap(VerificationStore, f))
const current = (id: string) => verifications((s) => s.lock(id)).then(Option.getOrThrow)

describe("verification store", () => {
  it("stores a code while unused, counts checks, clears the code on use and keeps it cleared", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    await verifications((s) => s.setCodeHash(request.id, "h1"))
    await verifications((s) => s.countCheck(request.id))
    expect(await current(request.id)).toMatchObject({ codeHash: "h1", checks: 1, usedAt: undefined })
    await verifications((s) => s.markVerified(request.id))
    const used = await current(request.id)
    expect(used.codeHash).toBeUndefined()
    expect(used.usedAt).toBeInstanceOf(Date)
    await verifications((s) => s.setCodeHash(request.id, "h2"))
    expect((await current(request.id)).codeHash).toBeUndefined()
  })

  it("a reissue drops the code, resets the checks and records the send", async () => {
    const { request } = await runtime.runPromise(pendingRequest)
    await verifications((s) => s.setCodeHash(request.id, "h1"))
    await verifications((s) => s.countCheck(request.id))
    const issuedAt = await verifications((s) => s.reissue(request.id))
    const after = await current(request.id)
    expect(after).toMatchObject({ codeHash: undefined, checks: 0, issuedAt })
    expect(after.sends).toHaveLength(2)
    expect(Option.isNone(await verifications((s) => s.lock("00000000-0000-4000-8000-000000000000")))).toBe(true)
  })
})
