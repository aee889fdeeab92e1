import * as Duration from "effect/Duration"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { afterUnanswered, defaultRetryPolicy, firstPosition, maxAttempts, type NextStep, planOf, type Position } from "../../../domain/callbacks/EscalationPlan.ts"

/** Every attempt a request makes when nobody ever answers, with the wait before each. */
const walk = (levels: number, policy = defaultRetryPolicy) => {
  const attempts: Array<Position & { readonly waitMs: number }> = [{ ...firstPosition, waitMs: 0 }]
  let step: NextStep = afterUnanswered(firstPosition, levels, policy)
  while (step._tag !== "GiveUp") {
    attempts.push({ ...step.position, waitMs: step._tag === "Retry" ? Duration.toMillis(step.after) : 0 })
    step = afterUnanswered(step.position, levels, policy)
  }
  return attempts
}

describe("escalation plan", () => {
  it("tries each number 3 times, 1 m then 5 m apart, escalates at once, then gives up", () => {
    expect(walk(2)).toEqual([
      { level: 0, attemptOnNumber: 1, waitMs: 0 },
      { level: 0, attemptOnNumber: 2, waitMs: 60_000 },
      { level: 0, attemptOnNumber: 3, waitMs: 300_000 },
      { level: 1, attemptOnNumber: 1, waitMs: 0 },
      { level: 1, attemptOnNumber: 2, waitMs: 60_000 },
      { level: 1, attemptOnNumber: 3, waitMs: 300_000 }
    ])
  })

  it("puts the business's own phone first", () => {
    const plan = planOf({ phone: "+4930111", escalation: [{ phone: "+4930222", ringSeconds: 15 }] })
    expect(plan.map((s) => s.phone)).toEqual(["+4930111", "+4930222"])
  })

  it("property: any policy makes exactly levels x attemptsPerNumber attempts, each number in order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 3_600_000 }), { minLength: 1, maxLength: 4 }),
        (levels, attemptsPerNumber, delays) => {
          const policy = { attemptsPerNumber, delays: delays.map((ms) => Duration.millis(ms)) }
          const attempts = walk(levels, policy)
          expect(attempts).toHaveLength(maxAttempts(levels, policy))
          attempts.forEach((a, i) => {
            expect(a.level).toBe(Math.floor(i / attemptsPerNumber))
            expect(a.attemptOnNumber).toBe((i % attemptsPerNumber) + 1)
            const expectedWait = a.attemptOnNumber === 1 ? 0 : (delays[Math.min(a.attemptOnNumber - 1, delays.length) - 1] ?? 0)
            expect(a.waitMs).toBe(expectedWait)
          })
        }
      )
    )
  })
})
