/** Which number texts a visitor, and each number's pace as a job rate. */
import * as Duration from "effect/Duration"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { senderFor, senderPace, senderRateKey } from "../../../domain/callbacks/SmsSenders.ts"

const pool = (n: number) => Array.from({ length: n }, (_, i) => `+1415555${String(100 + i).padStart(4, "0")}`)
const phones = Array.from({ length: 3_000 }, (_, i) => `+1650555${String(i).padStart(4, "0")}`)

describe("senderFor", () => {
  it("is one of the pool, and the same for the same phone whatever the pool's order", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 9_999 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 9_999_999 }), (ns, n) => {
        const senders = ns.map((i) => `+1415555${String(i).padStart(4, "0")}`)
        const phone = `+1650${String(n).padStart(7, "0")}`
        const chosen = senderFor(phone, senders)
        expect(senders).toContain(chosen)
        expect(senderFor(phone, [...senders].reverse())).toBe(chosen)
      })
    )
  })

  it("shares a pool out evenly", () => {
    const counts = new Map<string, number>()
    for (const phone of phones) counts.set(senderFor(phone, pool(3)), (counts.get(senderFor(phone, pool(3))) ?? 0) + 1)
    expect(counts.size).toBe(3)
    for (const n of counts.values()) expect(n).toBeGreaterThan(800) // 1,000 each on average
  })

  it("keeps visitors on their number when the pool changes: only a leaving number's visitors move, and a new one takes about its share", () => {
    const before = pool(5)
    const grown = pool(6)
    const shrunk = before.filter((s) => s !== before[2])
    let moved = 0
    for (const phone of phones) {
      const was = senderFor(phone, before)
      const now = senderFor(phone, grown)
      if (now !== was) {
        moved++
        expect(now).toBe(grown[5]) // a visitor who moves goes to the new number, never to another old one
      }
      if (was !== before[2]) expect(senderFor(phone, shrunk)).toBe(was)
    }
    expect(moved).toBeGreaterThan(phones.length / 6 / 2)
    expect(moved).toBeLessThan((phones.length / 6) * 1.5)
  })

  it("refuses an empty pool", () => {
    expect(() => senderFor("+16505550000", [])).toThrow(/empty/)
  })
})

describe("senderPace", () => {
  it.each([
    [1, 1, 1_000],
    [3, 3, 1_000],
    [100, 100, 1_000],
    [0.5, 1, 2_000],
    [2.5, 2, 800],
    [0.001, 1, 1_000_000]
  ])("%d per second is %d per %d ms", (rate, count, perMs) => {
    const pace = senderPace(rate)
    expect(pace.count).toBe(count)
    expect(Duration.toMillis(pace.per)).toBeCloseTo(perMs, 6)
  })

  it("names the sender in its rate key", () => {
    expect(senderRateKey("+14155550100")).toBe("sms-sender:+14155550100")
  })
})
