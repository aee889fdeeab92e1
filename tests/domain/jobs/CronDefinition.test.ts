import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { catchUpSlot, defineCron, latestSlot, nextSlot, slotKey } from "../../../domain/jobs/CronDefinition.ts"
import { defineJob } from "../../../domain/jobs/JobDefinition.ts"

const Job = defineJob({ kind: "test.cron", args: Schema.Struct({}) })
const instant = fc.date({ min: new Date("2020-01-01T00:00:00Z"), max: new Date("2035-01-01T00:00:00Z"), noInvalidDate: true })

describe("cron slots", () => {
  it("rejects a malformed schedule or name at definition time", () => {
    expect(() => defineCron({ name: "x", schedule: "not cron", job: Job, args: {} })).toThrow(/defineCron\(x\)/)
    expect(() => defineCron({ name: "Bad Name", schedule: "* * * * *", job: Job, args: {} })).toThrow(/name/)
  })

  it("keys each slot the same way in every process", () => {
    expect(slotKey("report.daily", new Date("2026-03-01T06:00:00Z"))).toBe("cron:report.daily:2026-03-01T06:00:00.000Z")
  })

  it("finds the latest slot at or before now and the next one after it", () => {
    const cron = defineCron({ name: "every5s", schedule: "*/5 * * * * *", job: Job, args: {} })
    fc.assert(
      fc.property(instant, (now) => {
        const latest = latestSlot(cron.schedule, now)
        const next = nextSlot(cron.schedule, now)
        expect(latest.getTime()).toBeLessThanOrEqual(now.getTime())
        expect(now.getTime() - latest.getTime()).toBeLessThan(5_000)
        expect(next.getTime()).toBeGreaterThan(now.getTime())
        expect(next.getTime() - latest.getTime()).toBe(5_000)
        expect(latest.getUTCSeconds() % 5).toBe(0)
      })
    )
  })

  it("catches up only a slot inside the window", () => {
    const cron = defineCron({ name: "hourly", schedule: "0 * * * *", job: Job, args: {} })
    const now = new Date("2026-05-05T10:20:00Z")
    expect(catchUpSlot(cron.schedule, now, Duration.minutes(30))).toEqual(new Date("2026-05-05T10:00:00Z"))
    expect(catchUpSlot(cron.schedule, now, Duration.minutes(10))).toBeUndefined()
  })

  it("reads a schedule in its time zone", () => {
    const cron = defineCron({ name: "paris9", schedule: "0 9 * * *", timeZone: "Europe/Paris", job: Job, args: {} })
    expect(nextSlot(cron.schedule, new Date("2026-01-10T00:00:00Z"))).toEqual(new Date("2026-01-10T08:00:00Z"))
    expect(nextSlot(cron.schedule, new Date("2026-07-10T00:00:00Z"))).toEqual(new Date("2026-07-10T07:00:00Z"))
  })
})
