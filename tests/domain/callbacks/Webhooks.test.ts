/** The pure rules of outbound webhooks: event filters, the disable policy, the retry window, the rotation overlap, the envelope. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { deliveryKey, envelope, previousStillSigns, secretHint, shouldDisable, signedContent, wants, windowOver } from "../../../domain/callbacks/Webhooks.ts"

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms)
const HOUR = 3_600_000

describe("shouldDisable", () => {
  const policy = { failures: 25, afterMs: HOUR }
  it.each([
    [24, 2 * HOUR, false, "too few failures, however long"],
    [25, HOUR - 1, false, "enough failures, too short a run"],
    [25, HOUR, true, "both reached"],
    [1000, 10 * HOUR, true, "well past both"],
    [0, 0, false, "no run"]
  ])("%i failures over %i ms: %s (%s)", (failures, lasted, expected) => {
    expect(shouldDisable({ failures, since: at(0) }, at(lasted), policy)).toBe(expected)
  })

  it("property: disabling is monotone in both the count and the duration", () => {
    fc.assert(
      fc.property(fc.nat(100), fc.nat(10 * HOUR), fc.nat(100), fc.nat(10 * HOUR), (failures, lasted, more, longer) => {
        if (shouldDisable({ failures, since: at(0) }, at(lasted), policy)) {
          expect(shouldDisable({ failures: failures + more, since: at(0) }, at(lasted + longer), policy)).toBe(true)
        }
      })
    )
  })
})

describe("the other rules", () => {
  it("an empty list of event types wants every type; a list wants what it names", () => {
    expect(wants([], "callback.created")).toBe(true)
    expect(wants(["callback.completed"], "callback.created")).toBe(false)
    expect(wants(["callback.completed", "callback.created"], "callback.created")).toBe(true)
  })

  it("the retry window is over once its length has passed since it began", () => {
    expect(windowOver(at(0), at(3 * 24 * HOUR - 1), 3 * 24 * HOUR)).toBe(false)
    expect(windowOver(at(0), at(3 * 24 * HOUR), 3 * 24 * HOUR)).toBe(true)
  })

  it("the previous secret signs only until its time", () => {
    expect(previousStillSigns({ previousSecret: "whsec_old", previousSecretUntil: at(10) }, at(9))).toBe(true)
    expect(previousStillSigns({ previousSecret: "whsec_old", previousSecretUntil: at(10) }, at(10))).toBe(false)
    expect(previousStillSigns({ previousSecret: undefined, previousSecretUntil: undefined }, at(0))).toBe(false)
  })

  it("the envelope, the signed content, the hint and the concurrency key", () => {
    const event = { id: "e1", type: "callback.created", at: "2026-01-01T00:00:00.000Z", seq: 1 }
    expect(envelope(event)).toEqual({ type: "callback.created", timestamp: "2026-01-01T00:00:00.000Z", data: event })
    expect(signedContent("msg_1", 1700000000, '{"a":1}')).toBe('msg_1.1700000000.{"a":1}')
    expect(secretHint("whsec_abcdefgh")).toBe("whsec_abcd…")
    expect(deliveryKey("e", "c")).toBe("webhook:e:c")
  })
})
