/**
 * The business store against real Postgres: what is written reads back as
 * the same Business (jsonb hours and plan, arrays, absent country); update
 * and find of an unknown id are none; listing pages by id; a row whose plan
 * the domain refuses is a defect.
 */
import { randomUUID } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BusinessStore } from "../../../infra/callbacks/BusinessStore.ts"
import { businessInput, callbackStoresRuntime } from "../../support/callbackStores.ts"
import { cloneDatabase, query } from "../../support/database.ts"

let url: string
let runtime: ReturnType<typeof callbackStoresRuntime>
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = callbackStoresRuntime(url)
})
afterAll(() => runtime.dispose())

const businesses = <A, E>(f: (store: BusinessStore) => Effect.Effect<A, E>) => runtime.runPromise(Effect.flatMap(BusinessStore, f))

describe("business store", () => {
  it("reads back what it wrote, and what it updated", async () => {
    const input = businessInput({ hours: { mon: [["09:00", "17:00"]], sat: [["10:00", "12:00"]] }, escalation: [{ phone: "+14155550101", ringSeconds: 15 }], vipPhones: ["+14155550199"] })
    const created = await businesses((s) => s.create(randomUUID(), input))
    expect(created).toMatchObject({ ...input, country: undefined })
    expect(await businesses((s) => s.find(created.id))).toEqual(Option.some(created))

    const updated = Option.getOrThrow(await businesses((s) => s.update(created.id, { ...input, country: "DE", hours: undefined, smsFallback: false })))
    expect(updated).toMatchObject({ id: created.id, country: "DE", hours: undefined, smsFallback: false, createdAt: created.createdAt })
    expect(Option.isNone(await businesses((s) => s.update(randomUUID(), input)))).toBe(true)
    expect(Option.isNone(await businesses((s) => s.find(randomUUID())))).toBe(true)
  })

  it("lists by id after the cursor", async () => {
    await Promise.all([1, 2, 3].map(() => businesses((s) => s.create(randomUUID(), businessInput()))))
    const all = await businesses((s) => s.list(100, undefined))
    const ids = all.map((b) => b.id)
    expect(ids).toEqual([...ids].sort())
    const [first, second] = ids
    expect((await businesses((s) => s.list(1, first))).map((b) => b.id)).toEqual([second])
  })

  it("a row whose plan the domain refuses is a defect", async () => {
    const created = await businesses((s) => s.create(randomUUID(), businessInput()))
    await query(url, `UPDATE businesses SET escalation = '[{"phone": "+14155550101", "ringSeconds": 2}]' WHERE id = $1`, [created.id])
    const exit = await runtime.runPromiseExit(Effect.flatMap(BusinessStore, (s) => s.find(created.id)))
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toContain("ringSeconds")
  })
})
