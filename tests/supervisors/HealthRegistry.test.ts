import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { restartDelay } from "../../supervisors/Actor.ts"
import { make } from "../../supervisors/HealthRegistry.ts"

const stalled = (registry: Effect.Effect.Success<ReturnType<typeof make>>) =>
  Effect.map(registry.report, (reports) => reports.filter((r) => r.stalled).map((r) => r.name))

describe("HealthRegistry", () => {
  it.effect("a busy actor stalls after the timeout without a beat; a beat clears it", () =>
    Effect.gen(function* () {
      const registry = yield* make(Duration.seconds(10))
      yield* registry.enroll("a")
      yield* TestClock.adjust("10 seconds")
      expect(yield* stalled(registry)).toEqual([])
      yield* TestClock.adjust("1 second")
      expect(yield* stalled(registry)).toEqual(["a"])
      const [report] = yield* registry.report
      expect(report?.heartbeatAgeSeconds).toBe(11)
      yield* registry.beat("a")
      expect(yield* stalled(registry)).toEqual([])
    })
  )

  it.effect("a declared wait moves the deadline to its end; an open-ended wait never stalls", () =>
    Effect.gen(function* () {
      const registry = yield* make(Duration.seconds(10))
      yield* registry.waiting("sleeper", Duration.toMillis("5 minutes"))
      yield* registry.waiting("mailbox", Number.POSITIVE_INFINITY)
      yield* TestClock.adjust("5 minutes")
      const reports = yield* registry.report
      expect(reports.every((r) => r.heartbeatAgeSeconds === 0)).toBe(true)
      yield* TestClock.adjust("11 seconds")
      expect(yield* stalled(registry)).toEqual(["sleeper"])
    })
  )

  it.effect("restarts count, the backoff is a wait, and a retired actor never stalls but keeps its count", () =>
    Effect.gen(function* () {
      const registry = yield* make(Duration.seconds(1))
      yield* registry.enroll("flaky")
      yield* registry.restarting("flaky", "boom", 3_000)
      yield* TestClock.adjust("3 seconds")
      expect(yield* stalled(registry)).toEqual([])
      yield* registry.retire("flaky")
      yield* TestClock.adjust("1 hour")
      const [report] = yield* registry.report
      expect(report).toMatchObject({ name: "flaky", restarts: 1, running: false, stalled: false, lastError: "boom" })
    })
  )
})

describe("restartDelay", () => {
  it("doubles from 200 ms, is capped at 30 s, and jitters within ±20%", () => {
    expect(restartDelay(0, 0.5)).toBe(200)
    expect(restartDelay(3, 0.5)).toBe(1_600)
    expect(restartDelay(30, 0.5)).toBe(30_000)
    expect(restartDelay(0, 0)).toBeCloseTo(160)
    expect(restartDelay(0, 1)).toBeCloseTo(240)
  })
})
