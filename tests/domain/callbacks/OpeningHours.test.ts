import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  firstOpenInWindow,
  isOpenAt,
  nextOpeningAt,
  openWindows,
  parseHours,
  wallClockInstant,
  WINDOW_HORIZON_DAYS,
  type WeeklyHours
} from "../../../domain/callbacks/OpeningHours.ts"
import { hours, instant, zones } from "../../support/hoursArbitraries.ts"

const hoursOf = (input: unknown): WeeklyHours => Either.getOrThrow(parseHours(input))
const weekdays9to5 = hoursOf({ mon: [["09:00", "17:00"]], tue: [["09:00", "17:00"]], wed: [["09:00", "17:00"]], thu: [["09:00", "17:00"]], fri: [["09:00", "17:00"]] })
const at = (iso: string) => new Date(iso)

describe("parseHours", () => {
  it("accepts intervals per weekday, 24:00 as a close, and leaves other days closed", () => {
    const hours = hoursOf({ sat: [["22:00", "24:00"], ["08:00", "12:30"]] })
    expect(hours.sat).toEqual([{ open: 480, close: 750 }, { open: 1320, close: 1440 }])
    expect(hours.mon).toEqual([])
  })

  it("reports every problem with its path", () => {
    const result = parseHours({ mon: [["9:00", "17:00"], ["17:00", "09:00"]], fri: [["10:00", "12:00"], ["11:00", "13:00"]], funday: [], tue: "9-5" })
    expect(Either.isLeft(result) ? result.left.map((e) => e.path) : []).toEqual(["hours.mon.0", "hours.mon.1", "hours.fri", "hours.funday", "hours.tue"])
    expect(Either.isLeft(parseHours([["09:00", "17:00"]]))).toBe(true)
    expect(Either.isLeft(parseHours({ mon: [["24:00", "24:00"]] }))).toBe(true)
  })
})

describe("nextOpeningAt", () => {
  it("is the instant itself while open, else the next opening in the business's zone", () => {
    // Wednesday 2026-11-25 10:00 in Berlin (UTC+1) is 09:00 UTC
    expect(nextOpeningAt(weekdays9to5, "Europe/Berlin", at("2026-11-25T09:00:00Z"))).toEqual(at("2026-11-25T09:00:00Z"))
    // Wednesday 18:00 Berlin -> Thursday 09:00 Berlin
    expect(nextOpeningAt(weekdays9to5, "Europe/Berlin", at("2026-11-25T17:00:00Z"))).toEqual(at("2026-11-26T08:00:00Z"))
    // Friday 17:00 Berlin (closed: close is exclusive) -> Monday 09:00
    expect(nextOpeningAt(weekdays9to5, "Europe/Berlin", at("2026-11-27T16:00:00Z"))).toEqual(at("2026-11-30T08:00:00Z"))
    // the same UTC instant is already Saturday in Tokyo
    expect(nextOpeningAt(weekdays9to5, "Asia/Tokyo", at("2026-11-27T16:00:00Z"))).toEqual(at("2026-11-30T00:00:00Z"))
    expect(nextOpeningAt(hoursOf({}), "Europe/Berlin", at("2026-11-27T16:00:00Z"))).toBeUndefined()
  })

  it("follows daylight saving: the offset of the day of opening counts, not today's", () => {
    // Friday 2026-03-27 18:00 CET; Berlin springs forward on Sunday 29 March; Monday opens at 09:00 CEST = 07:00 UTC
    expect(nextOpeningAt(weekdays9to5, "Europe/Berlin", at("2026-03-27T17:00:00Z"))).toEqual(at("2026-03-30T07:00:00Z"))
    // New York falls back on Sunday 1 November 2026: Monday 09:00 EST = 14:00 UTC
    expect(nextOpeningAt(weekdays9to5, "America/New_York", at("2026-10-30T22:00:00Z"))).toEqual(at("2026-11-02T14:00:00Z"))
  })

  it("opens when the clocks resume if the opening time does not exist, and skips an interval wholly in the gap", () => {
    const sunday = hoursOf({ sun: [["02:30", "04:00"]] })
    // 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00): it opens at 03:30 CEST = 01:30 UTC
    expect(nextOpeningAt(sunday, "Europe/Berlin", at("2026-03-28T12:00:00Z"))).toEqual(at("2026-03-29T01:30:00Z"))
    const lost = hoursOf({ sun: [["02:00", "02:45"]] })
    // that day's interval never happens: the next Sunday's does, 02:00 CEST = 00:00 UTC
    expect(nextOpeningAt(lost, "Europe/Berlin", at("2026-03-28T12:00:00Z"))).toEqual(at("2026-04-05T00:00:00Z"))
  })

  it("takes the first of a repeated hour when the clocks fall back", () => {
    const early = hoursOf({ sun: [["01:30", "03:00"]] })
    // New York 2026-11-01 01:30 happens first at 05:30 UTC (EDT), again at 06:30 UTC (EST)
    expect(nextOpeningAt(early, "America/New_York", at("2026-10-31T12:00:00Z"))).toEqual(at("2026-11-01T05:30:00Z"))
  })


  it("a week whose only interval falls in a DST gap opens the week after (found by the property below)", () => {
    // Chatham springs forward from 02:45 to 03:45 on Sunday 2026-09-27: that Sunday never opens
    const next = nextOpeningAt(hoursOf({ sun: [["02:45", "03:00"]] }), "Pacific/Chatham", at("2026-09-19T14:15:00Z"))
    expect(next?.toISOString()).toBe("2026-10-03T13:00:00.000Z") // Sunday 2026-10-04 02:45 at +13:45
  })

  it("property: the answer is open, not before the instant, and nothing opens in between", () => {
    fc.assert(
      fc.property(hours, fc.constantFrom(...zones), instant, (input, zone, t) => {
        const parsed = hoursOf(input)
        const next = nextOpeningAt(parsed, zone, t)
        const anyHours = Object.values(parsed).some((intervals) => intervals.length > 0)
        if (next === undefined) return !anyHours
        if (next.getTime() < t.getTime() || !isOpenAt(parsed, zone, next)) return false
        // 5-minute steps cannot jump over an interval (each is at least 15 minutes long)
        for (let s = t.getTime() + 5 * 60_000; s < next.getTime(); s += 5 * 60_000) if (isOpenAt(parsed, zone, new Date(s))) return false
        return true
      }),
      { numRuns: 200 }
    )
  })
})

describe("a visitor's chosen window", () => {
  it("reads a local date and time in the visitor's zone, through daylight saving", () => {
    expect(wallClockInstant("2026-12-08", "14:00", "Europe/Berlin")).toEqual(at("2026-12-08T13:00:00Z"))
    expect(wallClockInstant("2026-07-08", "14:00", "Europe/Berlin")).toEqual(at("2026-07-08T12:00:00Z"))
    expect(wallClockInstant("2026-03-29", "02:30", "Europe/Berlin")).toEqual(at("2026-03-29T01:30:00Z")) // in the gap: 03:30 CEST
    expect(wallClockInstant("2026-10-25", "02:30", "Europe/Berlin")).toEqual(at("2026-10-25T00:30:00Z")) // repeated: the first
    expect(wallClockInstant("2026-12-08", "24:00", "UTC")).toEqual(at("2026-12-09T00:00:00Z"))
    expect(wallClockInstant("2026-02-30", "10:00", "UTC")).toBeUndefined()
    expect(wallClockInstant("2026-12-08", "25:00", "UTC")).toBeUndefined()
    expect(wallClockInstant("2026-12-08", "10:00", "Mars/Olympus")).toBeUndefined()
  })

  it("calls at the window's start when open, else at the first opening inside it, else never", () => {
    const now = at("2026-11-25T08:00:00Z") // Wednesday 09:00 Berlin
    const window = (start: string, end: string) => ({ start: at(start), end: at(end) })
    expect(firstOpenInWindow(weekdays9to5, "Europe/Berlin", window("2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z"), now)).toEqual(at("2026-11-25T13:00:00Z"))
    // a window that began before now starts now
    expect(firstOpenInWindow(weekdays9to5, "Europe/Berlin", window("2026-11-25T06:00:00Z", "2026-11-25T09:00:00Z"), now)).toEqual(now)
    // Wednesday 17:30 to Thursday 10:00 Berlin: Thursday 09:00
    expect(firstOpenInWindow(weekdays9to5, "Europe/Berlin", window("2026-11-25T16:30:00Z", "2026-11-26T09:00:00Z"), now)).toEqual(at("2026-11-26T08:00:00Z"))
    // Saturday afternoon: closed all of it
    expect(firstOpenInWindow(weekdays9to5, "Europe/Berlin", window("2026-11-28T13:00:00Z", "2026-11-28T14:00:00Z"), now)).toBeUndefined()
    // over the horizon
    expect(firstOpenInWindow(undefined, "Europe/Berlin", window("2026-12-10T13:00:00Z", "2026-12-10T14:00:00Z"), now)).toBeUndefined()
    // always open: the window's start
    expect(firstOpenInWindow(undefined, "Europe/Berlin", window("2026-12-08T13:00:00Z", "2026-12-08T14:00:00Z"), now)).toEqual(at("2026-12-08T13:00:00Z"))
  })

  it("lists the open windows of the next days, clipped and merged across midnight", () => {
    const late = hoursOf({ fri: [["20:00", "24:00"]], sat: [["00:00", "02:00"], ["10:00", "12:00"]] })
    expect(openWindows(late, "UTC", at("2026-11-27T21:00:00Z"), at("2026-11-28T11:00:00Z")).map((w) => [w.start.toISOString(), w.end.toISOString()])).toEqual([
      ["2026-11-27T21:00:00.000Z", "2026-11-28T02:00:00.000Z"],
      ["2026-11-28T10:00:00.000Z", "2026-11-28T11:00:00.000Z"]
    ])
  })

  const now = fc.date({ min: at("2020-01-01T00:00:00Z"), max: at("2030-12-31T00:00:00Z"), noInvalidDate: true })
  const windowAround = (t: Date) =>
    fc.tuple(fc.integer({ min: -2 * 24 * 60, max: 16 * 24 * 60 }), fc.integer({ min: 15, max: 2 * 24 * 60 })).map(([startMinutes, lengthMinutes]) => ({
      start: new Date(t.getTime() + startMinutes * 60_000),
      end: new Date(t.getTime() + (startMinutes + lengthMinutes) * 60_000)
    }))

  it("property: the call is inside the window, not before now, within the horizon, while open, and nothing earlier qualifies", () => {
    fc.assert(
      fc.property(hours, fc.constantFrom(...zones), now.chain((t) => fc.tuple(fc.constant(t), windowAround(t))), (input, zone, [t, window]) => {
        const parsed = hoursOf(input)
        const call = firstOpenInWindow(parsed, zone, window, t)
        const from = Math.max(window.start.getTime(), t.getTime())
        const last = Math.min(window.end.getTime(), t.getTime() + WINDOW_HORIZON_DAYS * 86_400_000 + 1)
        // 5-minute steps cannot jump over an interval (each is at least 15 minutes long)
        const stepsUntil = (stop: number) => {
          for (let s = from; s < stop; s += 5 * 60_000) if (isOpenAt(parsed, zone, new Date(s))) return s
          return undefined
        }
        if (call === undefined) return stepsUntil(last) === undefined
        if (call.getTime() < from || call.getTime() >= window.end.getTime() || !isOpenAt(parsed, zone, call)) return false
        return stepsUntil(call.getTime()) === undefined
      }),
      { numRuns: 150 }
    )
  })

  it("property: an instant is inside a listed window exactly when the business is open then", () => {
    fc.assert(
      fc.property(hours, fc.constantFrom(...zones), now, fc.array(fc.integer({ min: 0, max: 3 * 24 * 60 - 1 }), { minLength: 20, maxLength: 20 }), (input, zone, t, probes) => {
        const parsed = hoursOf(input)
        const until = new Date(t.getTime() + 3 * 86_400_000)
        const windows = openWindows(parsed, zone, t, until)
        for (const [i, w] of windows.entries()) {
          if (!(w.start < w.end) || w.start < t || w.end > until) return false
          const next = windows[i + 1]
          if (next !== undefined && next.start <= w.end) return false // ordered, apart
        }
        return probes.every((minute) => {
          const probe = new Date(t.getTime() + minute * 60_000)
          return windows.some((w) => w.start <= probe && probe < w.end) === isOpenAt(parsed, zone, probe)
        })
      }),
      { numRuns: 150 }
    )
  })
})
