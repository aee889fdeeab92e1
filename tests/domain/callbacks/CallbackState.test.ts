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
  targetsOf,
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

  it("lists each event's sources and targets from the table", () => {
    expect(sourcesOf("dial")).toEqual(["queued", "retry_scheduled", "escalated"])
    expect(sourcesOf("hangUp")).toEqual(["connected"])
    expect(sourcesOf("takeBack")).toEqual(["dialing"])
    expect(sourcesOf("takeBack", "escalated")).toEqual(["dialing"])
    expect(sourcesOf("takeBack", "completed")).toEqual([])
    expect(sourcesOf("cancel", "cancelled")).toEqual(sourcesOf("cancel"))
    expect(targetsOf("cancel")).toEqual(["cancelled"])
    expect(targetsOf("takeBack")).toEqual(["queued", "retry_scheduled", "escalated"])
  })

  it("every event but takeBack leads to one status, whatever it starts from", () => {
    for (const event of events) expect(targetsOf(event).length > 1, event).toBe(event === "takeBack")
  })

  it("takeBack is legal only from dialing, and only back to queued, retry_scheduled or escalated", () => {
    const back: ReadonlyArray<CallbackStatus> = ["queued", "retry_scheduled", "escalated"]
    for (const from of CallbackStatuses) {
      for (const to of CallbackStatuses) {
        const legal = from === "dialing" && back.includes(to)
        expect(Either.getOrUndefined(transition(from, "takeBack", to)), `${from} --takeBack--> ${to}`).toBe(legal ? to : undefined)
      }
    }
    // the status an attempt started from is where a dial came from: takeBack undoes exactly the dials
    expect([...back].sort()).toEqual([...sourcesOf("dial")].sort())
    expect(Either.getLeft(transition("dialing", "takeBack")).pipe((e) => e._tag === "Some" && e.value.message)).toBe(
      "a dialing callback request can takeBack to queued, retry_scheduled, escalated: which one must be said"
    )
    expect(Either.getLeft(transition("dialing", "takeBack", "failed")).pipe((e) => e._tag === "Some" && e.value.message)).toBe(
      "a dialing callback request cannot takeBack to failed"
    )
  })

  it("a single-target event takes its target when named, and refuses any other", () => {
    expect(transition("queued", "dial", "dialing")).toEqual(Either.right("dialing"))
    expect(Either.isLeft(transition("queued", "dial", "connected"))).toBe(true)
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
