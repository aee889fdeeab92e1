import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Either from "effect/Either"
import { decideRoute, MAIN, MAX_ROUTES, slotOf, targetOf, whenToCall } from "../../../domain/callbacks/Department.ts"
import { isOpenAt, nextOpeningAt, parseHours } from "../../../domain/callbacks/OpeningHours.ts"
import { hours, instant, zones } from "../../support/hoursArbitraries.ts"

const departments = ["billing", "sales", "support"] as const
const anyTarget = fc.constantFrom(MAIN, ...departments, "gone", "")

describe("routing between departments", () => {
  it("property: however moves are asked for, a request moves at most the bound, one at a time, only to another known department", () => {
    fc.assert(
      fc.property(fc.array(anyTarget, { maxLength: 30 }), fc.integer({ min: 0, max: 6 }), (asks, limit) => {
        let at: string = MAIN
        let routes = 0
        for (const to of asks) {
          const decision = decideRoute(at, routes, to, departments, limit)
          if (decision._tag === "Move") {
            expect(decision.to).toBe(to)
            expect(to).not.toBe(at)
            expect([MAIN, ...departments]).toContain(to)
            expect(decision.routes).toBe(routes + 1)
            at = decision.to
            routes = decision.routes
          } else {
            // the refusal names the first rule broken, in the order: same, unknown, bound
            const expected = to === at ? "same_department" : to !== MAIN && !(departments as ReadonlyArray<string>).includes(to) ? "unknown_department" : "limit"
            expect(decision.reason).toBe(expected)
          }
          expect(routes).toBeLessThanOrEqual(limit)
        }
      })
    )
  })

  it("the default bound is MAX_ROUTES: the next move is refused for the limit", () => {
    expect(decideRoute("billing", MAX_ROUTES - 1, "sales", departments)).toEqual({ _tag: "Move", to: "sales", routes: MAX_ROUTES })
    expect(decideRoute("sales", MAX_ROUTES, "billing", departments)).toEqual({ _tag: "Refuse", reason: "limit" })
  })
})

describe("where a request's calls go", () => {
  const business = {
    id: "7d1f9e3c-2a4b-4c6d-8e0f-1a2b3c4d5e6f",
    name: "Acme",
    phone: "+14155550100",
    ringSeconds: 25,
    escalation: [{ phone: "+14155550101", ringSeconds: 20 }],
    hours: { mon: [["09:00", "17:00"]] as Array<[string, string]> },
    timezone: "Europe/Berlin",
    maxConcurrentCalls: 2,
    afterHours: []
  }
  const department = {
    businessId: business.id,
    key: "billing",
    name: "Billing",
    phone: "+14155550200",
    ringSeconds: 15,
    escalation: [],
    afterHours: [],
    maxConcurrentCalls: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0)
  }

  it("main is the business: its numbers, hours, cap and its own concurrency key", () => {
    expect(targetOf(business)).toMatchObject({ key: MAIN, name: "Acme", phone: business.phone, escalation: business.escalation, hours: business.hours, maxConcurrentCalls: 2, slot: `business:${business.id}` })
  })

  it("a department has its numbers and cap and a key of its own; without hours it keeps the business's, in the business's zone", () => {
    const target = targetOf(business, department)
    expect(target).toMatchObject({ key: "billing", name: "Billing", phone: "+14155550200", ringSeconds: 15, escalation: [], maxConcurrentCalls: 1, hours: business.hours, timezone: "Europe/Berlin" })
    expect(target.slot).toBe(slotOf(business.id, "billing"))
    expect(target.slot).not.toBe(targetOf(business).slot)
    const own = { sat: [["10:00", "12:00"]] as Array<[string, string]> }
    expect(targetOf(business, { ...department, hours: own }).hours).toEqual(own)
  })
})

describe("after hours", () => {
  const onCall = fc.array(fc.record({ phone: fc.constantFrom("+14155550900", "+14155550901"), ringSeconds: fc.integer({ min: 5, max: 120 }) }), { maxLength: 2 })

  it("property: open, a request is called now; closed, on the after-hours chain now when there is one, else at the next opening, in the zone's own wall time (DST included)", () => {
    fc.assert(
      fc.property(hours, fc.constantFrom(...zones), instant, onCall, (weekly, timezone, now, chain) => {
        const parsed = Either.getOrThrow(parseHours(weekly))
        const open = isOpenAt(parsed, timezone, now)
        const when = whenToCall({ hours: weekly, timezone, afterHours: chain }, now)
        if (open) {
          expect(when._tag).toBe("Now")
          return
        }
        if (chain.length > 0) {
          expect(when._tag).toBe("AfterHours")
          return
        }
        // closed with no chain: called now only when the hours never open again (nothing to wait for)
        if (when._tag === "Now") {
          expect(nextOpeningAt(parsed, timezone, now)).toBeUndefined()
          return
        }
        expect(when._tag).toBe("AtOpening")
        if (when._tag !== "AtOpening") return
        expect(when.opensAt.getTime()).toBeGreaterThan(now.getTime())
        expect(isOpenAt(parsed, timezone, when.opensAt)).toBe(true)
        expect(isOpenAt(parsed, timezone, new Date(when.opensAt.getTime() - 60_000))).toBe(false)
      })
    )
  })

  it("property: the after-hours target calls the chain in order, at any hour, under the department's own slot", () => {
    fc.assert(
      fc.property(hours, fc.constantFrom(...zones), instant, onCall.filter((c) => c.length > 0), (weekly, timezone, now, chain) => {
        const business = { id: "7d1f9e3c-2a4b-4c6d-8e0f-1a2b3c4d5e6f", name: "Acme", phone: "+14155550100", ringSeconds: 25, escalation: [], hours: weekly, timezone, maxConcurrentCalls: 1, afterHours: chain }
        const target = targetOf(business, undefined, true)
        expect([{ phone: target.phone, ringSeconds: target.ringSeconds }, ...target.escalation]).toEqual(chain)
        expect(target.hours).toBeUndefined()
        expect(whenToCall(target, now)._tag).toBe("Now")
        expect(target.slot).toBe(targetOf(business).slot)
        // without a chain, the flag changes nothing: the department's own chain
        expect(targetOf({ ...business, afterHours: [] }, undefined, true)).toEqual(targetOf({ ...business, afterHours: [] }))
      })
    )
  })
})
