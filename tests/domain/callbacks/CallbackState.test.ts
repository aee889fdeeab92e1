import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type CallbackEvent,
  type CallbackStatus,
  CallbackStatuses,
  isForward,
  isTerminal,
  sourcesOf,
  transition,
  Transitions
} from "../../../domain/callbacks/CallbackState.ts"

const events = Object.keys(Transitions) as ReadonlyArray<CallbackEvent>

describe("callback lifecycle", () => {
  it("runs the happy path and the unanswered paths of DESIGN.md", () => {
    const run = (from: CallbackStatus, ...path: Array<CallbackEvent>) =>
      path.reduce<CallbackStatus>((status, event) => Either.getOrThrow(transition(status, event)), from)
    expect(run("pending_verification", "verify", "dial", "answer", "hangUp")).toBe("completed")
    expect(run("queued", "dial", "retryLater", "dial", "escalate", "dial", "giveUp")).toBe("failed")
    expect(run("failed", "adminRetry")).toBe("queued")
    expect(run("pending_verification", "expire")).toBe("expired")
  })

  it("refuses moves out of terminal statuses, except an admin retry of failed or cancelled", () => {
    for (const status of CallbackStatuses.filter(isTerminal)) {
      for (const event of events) {
        const allowed = event === "adminRetry" && (status === "failed" || status === "cancelled")
        expect(Either.isRight(transition(status, event)), `${status} --${event}`).toBe(allowed)
      }
    }
    expect(Either.getLeft(transition("connected", "cancel")).pipe((e) => e._tag === "Some" && e.value.message)).toBe(
      "a connected callback request cannot cancel"
    )
  })

  it("lists each event's sources from the table", () => {
    expect(sourcesOf("dial")).toEqual(["queued", "retry_scheduled", "escalated"])
    expect(sourcesOf("hangUp")).toEqual(["connected"])
  })

  it("property: applying status reports only when forward never regresses, in any order, any number of times", () => {
    const reports = ["dialing", "connected", "completed"] as const
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...reports), { maxLength: 12 }), (sequence) => {
        let status: CallbackStatus = "dialing"
        for (const next of sequence) if (isForward(status, next)) status = next
        // the final status is the furthest one reported (or where it started)
        const furthest = sequence.includes("completed") ? "completed" : sequence.includes("connected") ? "connected" : "dialing"
        expect(status).toBe(furthest)
      })
    )
  })
})
