import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  initialState,
  isTerminal,
  type JobEvent,
  type JobState,
  JobStates,
  sourcesOf,
  TerminalStates,
  targetOf,
  transition,
  Transitions
} from "../../../domain/jobs/JobState.ts"

const events = Object.keys(Transitions) as ReadonlyArray<JobEvent>

describe("job transitions", () => {
  it("lists the lifecycle of DESIGN.md", () => {
    const legal = (from: JobState, event: JobEvent) => Either.getOrUndefined(transition(from, event))
    expect(legal("scheduled", "promote")).toBe("available")
    expect(legal("available", "claim")).toBe("running")
    expect(legal("running", "complete")).toBe("completed")
    expect(legal("running", "retry")).toBe("retryable")
    expect(legal("retryable", "promote")).toBe("available")
    expect(legal("running", "discard")).toBe("discarded")
    expect(legal("running", "snooze")).toBe("scheduled")
    expect(legal("running", "rescue")).toBe("available")
    for (const state of ["scheduled", "available", "running", "retryable"] as const) expect(legal(state, "cancel")).toBe("cancelled")
    expect(legal("completed", "cancel")).toBeUndefined()
    expect(legal("available", "complete")).toBeUndefined()
    expect(legal("completed", "claim")).toBeUndefined()
  })

  it("gives every event a single target and derives its sources from the table", () => {
    for (const event of events) {
      const target = targetOf(event)
      for (const state of JobStates) {
        const result = transition(state, event)
        expect(Either.isRight(result)).toBe(sourcesOf(event).includes(state))
        if (Either.isRight(result)) expect(result.right).toBe(target)
        else expect(result.left.message).toContain(state)
      }
    }
  })

  it("only an operator's retry leaves a terminal state", () => {
    for (const state of TerminalStates) {
      for (const event of events) {
        expect(Either.isRight(transition(state, event))).toBe(event === "operatorRetry" && state !== "completed")
      }
    }
  })

  it("keeps random legal event sequences inside the lifecycle", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.constantFrom(...events), { maxLength: 60 }), (future, sequence) => {
        let state = initialState(future)
        let claims = 0
        let running = state === "running"
        for (const event of sequence) {
          const next = transition(state, event)
          if (Either.isLeft(next)) continue
          if (isTerminal(state)) expect(event).toBe("operatorRetry")
          if (event === "claim") {
            expect(running).toBe(false)
            claims++
          }
          state = next.right
          running = state === "running"
          expect(JobStates).toContain(state)
        }
        // a job is running only right after a claim
        if (state === "running") expect(claims).toBeGreaterThan(0)
      }),
      { numRuns: 500 }
    )
  })
})
