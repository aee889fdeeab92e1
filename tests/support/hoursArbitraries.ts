/**
 * Random opening hours, time zones and instants for property tests: zones with
 * and without DST, half-hour offsets and a 30-minute DST shift; hours on
 * quarter hours, up to two intervals a day, never overlapping.
 */
import fc from "fast-check"
import { Weekdays } from "../../domain/callbacks/OpeningHours.ts"

const at = (iso: string) => new Date(iso)

export const zones = ["UTC", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Chatham", "America/St_Johns"]
const quarter = fc.integer({ min: 0, max: 95 }).map((q) => q * 15)
const interval = fc.tuple(quarter, fc.integer({ min: 1, max: 32 })).map(([open, length]) => [open, Math.min(1440, open + length * 15)] as const)
const clock = (m: number) => (m === 1440 ? "24:00" : `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`)
export const hours = fc
  .dictionary(fc.constantFrom(...Weekdays), fc.array(interval, { minLength: 0, maxLength: 2 }), { minKeys: 1 })
  .map((days) =>
    Object.fromEntries(
      Object.entries(days).map(([day, intervals]) => {
        // keep intervals apart: drop any that would overlap an earlier one
        const kept: Array<readonly [number, number]> = []
        for (const [open, close] of [...intervals].sort((a, b) => a[0] - b[0])) {
          if (kept.every(([o, c]) => close <= o || open >= c)) kept.push([open, close])
        }
        return [day, kept.map(([open, close]) => [clock(open), clock(close)])]
      })
    )
  )
export const instant = fc.date({ min: at("2020-01-01T00:00:00Z"), max: at("2030-12-31T00:00:00Z"), noInvalidDate: true })

