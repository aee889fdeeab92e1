import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { admit, type Breaker, closedBreaker, defaultBreakerPolicy as policy, record, retryAfter } from "../../../domain/callbacks/CircuitBreaker.ts"

describe("circuit breaker", () => {
  it("opens after 5 consecutive failures, probes once after 30 s, and closes on a healthy probe", () => {
    let b: Breaker = closedBreaker
    for (let i = 0; i < 4; i++) b = record(b, false, 0)
    expect(b.status).toBe("closed")
    b = record(b, false, 1_000)
    expect(b.status).toBe("open")
    expect(admit(b, 30_999).allowed).toBe(false)
    expect(retryAfter(b, 11_000)).toBe(20_000)
    const probe = admit(b, 31_000)
    expect(probe).toMatchObject({ allowed: true, breaker: { status: "half_open", probing: true } })
    expect(admit(probe.breaker, 31_001).allowed).toBe(false) // one probe at a time
    expect(record(probe.breaker, true, 31_500)).toEqual(closedBreaker)
    expect(record(probe.breaker, false, 31_500)).toMatchObject({ status: "open", openedAt: 31_500 })
  })

  it("a success resets the count of consecutive failures", () => {
    const b = record(record(record(closedBreaker, false, 0), false, 0), true, 0)
    expect(b.consecutiveFailures).toBe(0)
  })

  it("property: under any outcomes, requests let through while open never exceed one probe per openFor window", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.boolean()), { maxLength: 300 }), (steps) => {
        let b: Breaker = closedBreaker
        let now = 0
        let lastProbeAt = -Infinity
        for (const [gap, healthy] of steps) {
          now += gap
          const wasOpen = b.status === "open"
          const decision = admit(b, now)
          b = decision.breaker
          if (!decision.allowed) continue
          if (wasOpen) {
            expect(now - lastProbeAt).toBeGreaterThanOrEqual(policy.openForMillis)
            lastProbeAt = now
          }
          b = record(b, healthy, now)
        }
      })
    )
  })
})
