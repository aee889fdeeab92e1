/**
 * The calls a `GET Calls.json` query selects, newest first, with Twilio's
 * semantics: `To`, `From`, `Status` (a REST status), `ParentCallSid` (no
 * simulated call has a parent), and `StartTime`, `EndTime` with `>` (on or
 * after) and `<` (on or before), each a date (`YYYY-MM-DD`: that whole UTC
 * day) or a date-time compared in whole seconds, as Twilio shows times.
 * `StartTime` compares with the call's *start*: a call still queued has none
 * and is never selected by it; `EndTime` compares with `end_time`, which only
 * a completed call has.
 */
import type { SimCall } from "./Model.ts"

const DAY_MS = 86_400_000
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000

/** A bound as [from, to) in ms since the epoch: a day, or one second. */
const boundOf = (text: string): readonly [number, number] | undefined => {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : NaN
  if (!Number.isNaN(day)) return [day, day + DAY_MS]
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : [wholeSecond(at), wholeSecond(at) + 1000]
}

type TimeFilter = (at: string | undefined) => boolean

/** The filter of a time parameter (`StartTime`, `StartTime>`, `StartTime<`); a message when it is not a date. */
const timeFilter = (query: URLSearchParams, name: string): TimeFilter | string => {
  const filters: Array<TimeFilter> = []
  for (const [suffix, keep] of [
    ["", (t: number, [from, to]: readonly [number, number]) => t >= from && t < to],
    [">", (t: number, [from]: readonly [number, number]) => t >= from],
    ["<", (t: number, [, to]: readonly [number, number]) => t < to]
  ] as const) {
    const text = query.get(name + suffix)
    if (text === null) continue
    const bound = boundOf(text)
    if (bound === undefined) return `${name}${suffix} must be a date (YYYY-MM-DD) or a date-time, not ${text}`
    filters.push((at) => at !== undefined && keep(wholeSecond(Date.parse(at)), bound))
  }
  return (at) => filters.every((keep) => keep(at))
}

export const selectCalls = (calls: ReadonlyArray<SimCall>, query: URLSearchParams, statusOf: (call: SimCall) => string): ReadonlyArray<SimCall> | string => {
  const started = timeFilter(query, "StartTime")
  if (typeof started === "string") return started
  const ended = timeFilter(query, "EndTime")
  if (typeof ended === "string") return ended
  const matches = (name: string, value: string | null) => {
    const wanted = query.get(name)
    return wanted === null || wanted === value
  }
  return calls
    .filter((call) => matches("To", call.to) && matches("From", call.from) && matches("Status", statusOf(call)) && matches("ParentCallSid", null))
    .filter((call) => started(call.startedAt) && ended(call.phase === "completed" ? call.endedAt : undefined))
    .toReversed()
}
