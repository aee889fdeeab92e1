/**
 * Opening hours in the business's own time zone, and the next moment a
 * business opens, correct across daylight-saving changes.
 *
 * Hours are wall-clock intervals per weekday (`{ mon: [["09:00", "17:00"]] }`;
 * `24:00` closes at midnight; an interval never spans midnight, write two).
 * Wall times are mapped to instants with the zone's rules: an opening that
 * falls in a spring-forward gap opens when the clocks resume (02:30 that does
 * not exist becomes 03:30), and in a fall-back overlap the first occurrence
 * counts. An interval that lies wholly in a gap does not happen that day.
 *
 * A visitor may choose a window to be called in (issue 16): `firstOpenInWindow`
 * is the first instant inside it when the business is open, at most 14 days
 * ahead, and `openWindows` lists the business's open windows for the widget.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/** Indexed like `Date#getDay`: 0 is Sunday. */
export const Weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const
export type Weekday = (typeof Weekdays)[number]

/** Minutes after local midnight: `open` inclusive, `close` exclusive (at most 1440). */
export interface OpeningInterval {
  readonly open: number
  readonly close: number
}

export type WeeklyHours = Readonly<Record<Weekday, ReadonlyArray<OpeningInterval>>>

export interface HoursError {
  readonly path: string
  readonly message: string
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/

const minutesOf = (text: string): number | undefined => {
  const match = TIME.exec(text)
  if (match === null) return undefined
  return text === "24:00" ? 1440 : Number(match[1]) * 60 + Number(match[2])
}

/** Validates `{ mon: [["09:00","17:00"]], ... }`; days left out are closed. Every problem is reported. */
export const parseHours = (input: unknown): Either.Either<WeeklyHours, ReadonlyArray<HoursError>> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left([{ path: "hours", message: "must be an object of weekdays (mon..sun) to lists of [open, close] times" }])
  }
  const errors: Array<HoursError> = []
  const hours = Object.fromEntries(Weekdays.map((day) => [day, [] as Array<OpeningInterval>])) as Record<Weekday, Array<OpeningInterval>>
  for (const [day, value] of Object.entries(input)) {
    if (!(Weekdays as ReadonlyArray<string>).includes(day)) {
      errors.push({ path: `hours.${day}`, message: "is not a weekday (mon, tue, wed, thu, fri, sat, sun)" })
      continue
    }
    if (!Array.isArray(value)) {
      errors.push({ path: `hours.${day}`, message: "must be a list of [open, close] pairs" })
      continue
    }
    const intervals: Array<OpeningInterval> = []
    value.forEach((pair: unknown, i) => {
      const path = `hours.${day}.${i}`
      const [open, close] = Array.isArray(pair) && pair.length === 2 && pair.every((t) => typeof t === "string") ? pair.map(minutesOf) : []
      if (open === undefined || close === undefined) errors.push({ path, message: 'must be ["HH:MM", "HH:MM"] (24-hour; "24:00" closes at midnight)' })
      else if (!(open < close)) errors.push({ path, message: "must open before it closes (write two intervals to span midnight)" })
      else if (open === 1440) errors.push({ path, message: "cannot open at 24:00" })
      else intervals.push({ open, close })
    })
    intervals.sort((a, b) => a.open - b.open)
    intervals.forEach((interval, i) => {
      const previous = intervals[i - 1]
      if (previous !== undefined && interval.open < previous.close) errors.push({ path: `hours.${day}`, message: "has overlapping intervals" })
    })
    hours[day as Weekday] = intervals
  }
  return errors.length > 0 ? Either.left(errors) : Either.right(hours)
}

/** Whether `timeZone` is an IANA zone this runtime knows. */
export const isTimeZone = (timeZone: string): boolean => Option.isSome(DateTime.zoneMakeNamed(timeZone))

const localParts = (instant: Date, timeZone: string) => DateTime.toParts(DateTime.unsafeMakeZoned(instant, { timeZone }))

/** Whether the business is open at `instant`. */
export const isOpenAt = (hours: WeeklyHours, timeZone: string, instant: Date): boolean => {
  const parts = localParts(instant, timeZone)
  const minute = parts.hours * 60 + parts.minutes
  const day = Weekdays[parts.weekDay]
  return day !== undefined && hours[day].some((interval) => interval.open <= minute && minute < interval.close)
}

/** The zone's offset from UTC at `instant`, in milliseconds (local wall time minus UTC). */
const offsetAt = (epochMillis: number, timeZone: string): number => {
  const p = localParts(new Date(epochMillis), timeZone)
  return Date.UTC(p.year, p.month - 1, p.day, p.hours, p.minutes, p.seconds, p.millis) - epochMillis
}

const DAY = 86_400_000

/**
 * The instant a wall-clock time happens in `timeZone`: of the offsets in force
 * a day before and a day after, those that map back to the wall time are
 * candidates and the earliest wins (an overlap's first occurrence); when none
 * does (a gap), the offset from before the change applies, which lands as far
 * past the gap as the wall time was into it.
 */
const instantOf = (year: number, month: number, day: number, minute: number, timeZone: string): Date => {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minute / 60), minute % 60)
  const before = wall - offsetAt(wall - DAY, timeZone)
  const after = wall - offsetAt(wall + DAY, timeZone)
  const valid = [before, after].filter((candidate) => candidate + offsetAt(candidate, timeZone) === wall)
  return new Date(valid.length > 0 ? Math.min(...valid) : before)
}

/**
 * `instant` itself when the business is open then, else the first later
 * instant at which it opens; undefined when it is never open.
 */
export const nextOpeningAt = (hours: WeeklyHours, timeZone: string, instant: Date): Date | undefined => {
  if (isOpenAt(hours, timeZone, instant)) return instant
  const today = localParts(instant, timeZone)
  // fifteen local days: a whole week from any point, DST shifts included, and the week after, for hours
  // whose only interval of the week falls in a DST gap that week (Pacific/Chatham's 02:45-03:45 on a Sunday)
  for (let offset = 0; offset <= 15; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset))
    const day = Weekdays[date.getUTCDay()]
    if (day === undefined) continue
    for (const interval of hours[day]) {
      const opens = instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), interval.open, timeZone)
      if (opens.getTime() > instant.getTime() && isOpenAt(hours, timeZone, opens)) return opens
    }
  }
  return undefined
}

/**
 * Whether a business with these hours is closed at `now`, and when it opens
 * next. Hours that are absent (always open) or unreadable never close it.
 */
export const closedUntil = (
  business: { readonly hours?: unknown; readonly timezone: string },
  now: Date
): { readonly closed: boolean; readonly opensAt: Date | undefined } => {
  if (business.hours === undefined) return { closed: false, opensAt: undefined }
  const hours = parseHours(business.hours)
  if (Either.isLeft(hours)) return { closed: false, opensAt: undefined }
  if (isOpenAt(hours.right, business.timezone, now)) return { closed: false, opensAt: undefined }
  return { closed: true, opensAt: nextOpeningAt(hours.right, business.timezone, now) }
}

/** How far after now a visitor's chosen window may reach. */
export const WINDOW_HORIZON_DAYS = 14

/** An interval of instants, `start` inclusive, `end` exclusive. */
export interface Window {
  readonly start: Date
  readonly end: Date
}

/**
 * The instant a local date (`YYYY-MM-DD`) and wall time (`HH:MM`, `24:00` for the next midnight) happen in
 * `timeZone`, by the same rules as the opening hours: a time in a spring-forward gap lands as far past the
 * gap as it was into it, the first of a repeated hour wins. Undefined for a date or time that is not one.
 */
export const wallClockInstant = (date: string, time: string, timeZone: string): Date | undefined => {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date)
  const minute = minutesOf(time)
  if (match === null || minute === undefined || !isTimeZone(timeZone)) return undefined
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const check = new Date(Date.UTC(year, month - 1, day))
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined
  return instantOf(year, month, day, minute, timeZone)
}

/**
 * When to call inside a visitor's window: the first instant of `window`, not before `now`, at which the
 * business is open (always, when `hours` is undefined) and at most `WINDOW_HORIZON_DAYS` after `now`;
 * undefined when the window and the opening hours never meet in that time.
 */
export const firstOpenInWindow = (hours: WeeklyHours | undefined, timeZone: string, window: Window, now: Date): Date | undefined => {
  const from = new Date(Math.max(window.start.getTime(), now.getTime()))
  const horizon = now.getTime() + WINDOW_HORIZON_DAYS * DAY
  const candidate = hours === undefined ? from : nextOpeningAt(hours, timeZone, from)
  if (candidate === undefined) return undefined
  return candidate.getTime() < window.end.getTime() && candidate.getTime() <= horizon ? candidate : undefined
}

/**
 * The business's open windows that overlap [from, until), as instants, clipped to it and in order; windows
 * that touch (22:00-24:00 then 00:00-02:00) are one. For the widget's "next available times".
 */
export const openWindows = (hours: WeeklyHours, timeZone: string, from: Date, until: Date): ReadonlyArray<Window> => {
  const first = localParts(from, timeZone)
  const windows: Array<Window> = []
  // from the local day before `from` (an interval that began then may still be open) to the day after `until`
  const days = Math.ceil((until.getTime() - from.getTime()) / DAY) + 2
  for (let offset = -1; offset <= days; offset++) {
    const date = new Date(Date.UTC(first.year, first.month - 1, first.day + offset))
    const day = Weekdays[date.getUTCDay()]
    if (day === undefined) continue
    const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()]
    for (const interval of hours[day]) {
      const start = Math.max(instantOf(y, m, d, interval.open, timeZone).getTime(), from.getTime())
      const end = Math.min(instantOf(y, m, d, interval.close, timeZone).getTime(), until.getTime())
      if (start >= end) continue
      const last = windows[windows.length - 1]
      if (last !== undefined && start <= last.end.getTime()) windows[windows.length - 1] = { start: last.start, end: new Date(Math.max(end, last.end.getTime())) }
      else windows.push({ start: new Date(start), end: new Date(end) })
    }
  }
  return windows
}
