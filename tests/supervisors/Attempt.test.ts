import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { describe, expect, it } from "vitest"
import { Permanent, Retryable, Snooze } from "../../domain/jobs/JobErrors.ts"
import { AttemptTimeout, outcomeOf } from "../../supervisors/Attempt.ts"

const facts = (attempt: number, maxAttempts = 3) => ({
  attempt,
  maxAttempts,
  backoff: { baseMs: 1_000, capMs: 60_000 },
  unit: 0.5,
  now: new Date("2026-01-01T00:00:00Z")
})

describe("attempt outcomes", () => {
  it("stores a snooze as whole milliseconds, bounded (a fractional or infinite delay would be unstorable)", () => {
    const snooze = (delay: Duration.Duration) => outcomeOf(Exit.fail(Snooze.for(delay)), facts(1))
    expect(snooze(Duration.millis(529_061.801))).toEqual({ _tag: "Snooze", delayMs: 529_062, kind: "other" })
    expect(snooze(Duration.nanos(1n))).toEqual({ _tag: "Snooze", delayMs: 1, kind: "other" })
    expect(snooze(Duration.infinity)).toEqual({ _tag: "Snooze", delayMs: 100 * 365 * 86_400_000, kind: "other" })
    expect(snooze(Duration.zero)).toEqual({ _tag: "Snooze", delayMs: 0, kind: "other" })
  })

  it("completes on success", () => {
    expect(outcomeOf(Exit.void, facts(1))).toEqual({ _tag: "Completed" })
  })

  it("retries a retryable failure with backoff, and discards it on the last attempt", () => {
    expect(outcomeOf(Exit.fail(new Retryable({ message: "busy" })), facts(2))).toEqual({
      _tag: "Retry",
      delayMs: 1_000, // second retry window is [0, 2 s], half of it
      error: { attempt: 2, at: "2026-01-01T00:00:00.000Z", kind: "retryable", message: "busy" }
    })
    expect(outcomeOf(Exit.fail(new Retryable({ message: "busy" })), facts(3))).toMatchObject({ _tag: "Discard", error: { kind: "retryable" } })
  })

  it("keeps the stack of the error a failure was caused by, for the operator's view of the attempt", () => {
    const cause = new Error("ECONNRESET")
    const retry = outcomeOf(Exit.fail(new Retryable({ message: "the provider hung up", cause })), facts(1))
    expect(retry).toMatchObject({ _tag: "Retry", error: { message: "the provider hung up", stack: cause.stack } })
    expect(outcomeOf(Exit.fail(new Permanent({ message: "bad", cause })), facts(1))).toMatchObject({ _tag: "Discard", error: { stack: cause.stack } })
    // without an Error as its cause there is no stack to keep
    expect(outcomeOf(Exit.fail(new Retryable({ message: "busy", cause: "a string" })), facts(1))).not.toHaveProperty("error.stack")
  })

  it("discards a permanent failure at once and snoozes without an error", () => {
    expect(outcomeOf(Exit.fail(new Permanent({ message: "invalid number" })), facts(1))).toMatchObject({
      _tag: "Discard",
      error: { kind: "permanent", message: "invalid number" }
    })
    expect(outcomeOf(Exit.fail(Snooze.for("30 seconds")), facts(1))).toEqual({ _tag: "Snooze", delayMs: 30_000, kind: "other" })
    // why it waits, as the snooze said it (switchboard_job_snoozes_total{reason})
    expect(outcomeOf(Exit.fail(Snooze.for("30 seconds", "budget spent", "budget")), facts(1))).toEqual({ _tag: "Snooze", delayMs: 30_000, kind: "budget" })
  })

  it("treats timeouts and defects as retryable, keeping what happened", () => {
    expect(outcomeOf(Exit.fail(new AttemptTimeout({ after: Duration.seconds(5) })), facts(1))).toMatchObject({
      _tag: "Retry",
      error: { kind: "timeout", message: "timed out after 5s" }
    })
    const defect = outcomeOf(Exit.die(new Error("undefined is not a function")), facts(1))
    expect(defect).toMatchObject({ _tag: "Retry", error: { kind: "defect" } })
    expect(defect?._tag === "Retry" && defect.error.message).toContain("undefined is not a function")
  })

  it("leaves an interruption to the caller, and clips long messages", () => {
    expect(outcomeOf(Exit.failCause(Cause.interrupt(FiberId.none)), facts(1))).toBeUndefined()
    const long = outcomeOf(Exit.fail(new Permanent({ message: "x".repeat(10_000) })), facts(1))
    expect(long?._tag === "Discard" && long.error.message.length).toBeLessThanOrEqual(2_001)
  })
})
