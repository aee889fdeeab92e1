import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { backoff, ceilingMs, nextRunAt, retryDelayMs } from "../../../domain/jobs/RetryPolicy.ts"

const policy = fc
  .tuple(fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 86_400_000 }))
  .map(([baseMs, extra]) => ({ baseMs, capMs: baseMs + extra }))
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })

describe("retry backoff", () => {
  it("waits a delay in [0, min(cap, base * 2^n)] for the n-th retry", () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 80 }), unit, (p, n, u) => {
        const delay = retryDelayMs(n, p, u)
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(Math.min(p.capMs, p.baseMs * 2 ** n))
        expect(Number.isInteger(delay)).toBe(true)
      }),
      { numRuns: 2_000 }
    )
  })

  it("uses the whole window (full jitter) and grows exponentially until the cap", () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 40 }), (p, n) => {
        expect(retryDelayMs(n, p, 0)).toBe(0)
        expect(ceilingMs(n + 1, p)).toBe(Math.min(p.capMs, ceilingMs(n, p) * 2))
        expect(retryDelayMs(n, p, 0.999_999)).toBeGreaterThanOrEqual(Math.floor(ceilingMs(n, p) * 0.999_99) - 1)
      })
    )
  })

  it("schedules the next run from the failed attempt", () => {
    const p = backoff("1 second", "1 minute")
    const now = new Date("2026-01-01T00:00:00Z")
    expect(nextRunAt(1, now, p, 0.5).getTime() - now.getTime()).toBe(500)
    expect(nextRunAt(3, now, p, 0.5).getTime() - now.getTime()).toBe(2_000)
    expect(nextRunAt(30, now, p, 0.5).getTime() - now.getTime()).toBe(30_000)
  })
})
