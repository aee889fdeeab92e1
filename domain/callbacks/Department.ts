/**
 * A business's departments, and where a request is routed.
 *
 * The business itself is its `main` department: its own phone, escalation
 * chain, hours and concurrency cap, as before departments existed. Every other
 * department (sales, billing, ...) has a chain, hours (the business's when it
 * keeps none of its own) and a cap of its own, and its calls hold slots of its
 * own key, so a busy billing never holds up sales.
 *
 * A request belongs to one department at a time: the visitor's topic chooses
 * it (none: `main`), and the agent's keypad or an operator may move it while
 * its call is in progress. A move starts the new department's chain from its
 * first number, with the request's attempts on it counted afresh: being sent
 * on is not the visitor's failure. Moves are bounded ({@link decideRoute}), so
 * two teams that keep sending a caller back and forth end it rather than loop.
 */
import * as Schema from "effect/Schema"
import { E164, Hours, PlanStep, RingSeconds } from "./Business.ts"
import { DepartmentKey } from "./CallFlow.ts"
import { businessSlot } from "./Jobs.ts"
import * as Either from "effect/Either"
import { closedUntil, firstOpenInWindow, openWindows, parseHours, type WeeklyHours, type Window, WINDOW_HORIZON_DAYS } from "./OpeningHours.ts"
import { Timestamp } from "../Timestamp.ts"

export { DepartmentKey }

/** The business's own department: its phone, chain, hours and cap. */
export const MAIN = "main"

/** How many times one request may be moved between departments (the agent's keypad and operators together). */
export const MAX_ROUTES = 3

export const Department = Schema.Struct({
  businessId: Schema.UUID,
  key: DepartmentKey,
  /** What the visitor sees as the topic, and what `{topic}` says in the announcement. */
  name: Schema.String,
  /** The first number called. */
  phone: E164,
  ringSeconds: RingSeconds,
  /** Backup numbers, called in order once the department's own number is exhausted. */
  escalation: Schema.Array(PlanStep),
  /** Absent: the business's hours. */
  hours: Schema.optional(Hours),
  /** Called instead, in order, for a request that comes while the department is closed (empty: it waits for the opening). */
  afterHours: Schema.Array(PlanStep),
  maxConcurrentCalls: Schema.Int,
  createdAt: Timestamp,
  updatedAt: Timestamp
}).annotations({ identifier: "Department" })
export type Department = typeof Department.Type

export type DepartmentInput = Omit<Department, "businessId" | "key" | "createdAt" | "updatedAt">

/** A chain to call and what bounds it: the part a department and a business (its `main`) share. */
interface Plan {
  readonly phone: string
  readonly ringSeconds: number
  readonly escalation: ReadonlyArray<PlanStep>
  readonly hours?: Hours | undefined
  readonly maxConcurrentCalls: number
  /** The after-hours chain (empty: none). */
  readonly afterHours: ReadonlyArray<PlanStep>
}

/** What a request's calls go to: the business's own chain or a department's, with the hours and the cap that apply. */
export interface Target extends Plan {
  readonly key: string
  /** The department's name (the business's for `main`). */
  readonly name: string
  readonly timezone: string
  /** The concurrency key its dials are admitted under and its calls hold. */
  readonly slot: string
}

interface BusinessLike extends Plan {
  readonly id: string
  readonly name: string
  readonly timezone: string
}

/** The concurrency key of a department's calls (`main`: the business's own key, `business:<id>`). */
export const slotOf = (businessId: string, key: string): string => (key === MAIN ? businessSlot(businessId) : `${businessSlot(businessId)}:${key}`)

/**
 * Where the calls of a request in `department` (none: `main`) go. With `afterHours` (and a chain to call), the
 * department's after-hours chain, called at any hour: it is what answers while the department is closed.
 */
export const targetOf = (business: BusinessLike, department?: Department | undefined, afterHours = false): Target => {
  const target: Target =
    department === undefined
      ? { ...pick(business), key: MAIN, name: business.name, timezone: business.timezone, slot: slotOf(business.id, MAIN) }
      : { ...pick(department), key: department.key, name: department.name, hours: department.hours ?? business.hours, timezone: business.timezone, slot: slotOf(business.id, department.key) }
  return afterHours ? onAfterHoursChain(target) : target
}

/** The target's after-hours chain in place of its own, called at any hour; the target itself when it has none. */
export const onAfterHoursChain = (target: Target): Target => {
  const [first, ...rest] = target.afterHours
  return first === undefined ? target : { ...target, phone: first.phone, ringSeconds: first.ringSeconds, escalation: rest, hours: undefined }
}

export type WhenToCall =
  | { readonly _tag: "Now" }
  /** Closed, with an after-hours chain: call that chain now. */
  | { readonly _tag: "AfterHours" }
  /** Closed, without one: call the department's own chain once it opens. */
  | { readonly _tag: "AtOpening"; readonly opensAt: Date }

/** When and on which chain a request that comes to `target` at `now` is called (in the target's own time zone, DST included). */
export const whenToCall = (target: Pick<Target, "hours" | "timezone" | "afterHours">, now: Date): WhenToCall => {
  const hours = closedUntil(target, now)
  if (!hours.closed) return { _tag: "Now" }
  if (target.afterHours.length > 0) return { _tag: "AfterHours" }
  return hours.opensAt === undefined ? { _tag: "Now" } : { _tag: "AtOpening", opensAt: hours.opensAt }
}

const pick = (from: Plan): Plan => ({
  phone: from.phone,
  ringSeconds: from.ringSeconds,
  escalation: from.escalation,
  hours: from.hours,
  maxConcurrentCalls: from.maxConcurrentCalls,
  afterHours: from.afterHours
})

export type RouteDecision =
  | { readonly _tag: "Move"; readonly to: string; readonly routes: number }
  | { readonly _tag: "Refuse"; readonly reason: "same_department" | "unknown_department" | "limit" }

/**
 * Whether a request in `from`, moved `routes` times so far, may move to `to` among `known` departments
 * (`main` is always known). A move to where it already is changes nothing and is refused; past
 * `limit` moves every further one is refused.
 */
export const decideRoute = (from: string, routes: number, to: string, known: ReadonlyArray<string>, limit: number = MAX_ROUTES): RouteDecision => {
  if (to === from) return { _tag: "Refuse", reason: "same_department" }
  if (to !== MAIN && !known.includes(to)) return { _tag: "Refuse", reason: "unknown_department" }
  if (routes >= limit) return { _tag: "Refuse", reason: "limit" }
  return { _tag: "Move", to, routes: routes + 1 }
}

/** Why a move was refused, as a person reads it. */
export const refusalText = (reason: Extract<RouteDecision, { _tag: "Refuse" }>["reason"], to: string, limit: number = MAX_ROUTES): string => {
  switch (reason) {
    case "same_department":
      return `the request is already with ${to}`
    case "unknown_department":
      return `the business has no department ${to}`
    case "limit":
      return `the request was moved ${limit} times already; it is not moved again`
  }
}

const weeklyOf = (target: Pick<Target, "hours">): WeeklyHours | undefined => {
  if (target.hours === undefined) return undefined
  const parsed = parseHours(target.hours)
  return Either.isRight(parsed) ? parsed.right : undefined
}

/** When to call a visitor who chose `window`: its first instant, not before `now`, at which the target is open (within the horizon); undefined when none. */
export const callInWindow = (target: Pick<Target, "hours" | "timezone">, window: Window, now: Date): Date | undefined =>
  firstOpenInWindow(weeklyOf(target), target.timezone, window, now)

/** The target's next `count` open windows within the horizon (one window to the horizon when it is always open): what a visitor may choose from. */
export const nextWindows = (target: Pick<Target, "hours" | "timezone">, now: Date, count = 5): ReadonlyArray<Window> => {
  const until = new Date(now.getTime() + WINDOW_HORIZON_DAYS * 24 * 3600_000)
  const weekly = weeklyOf(target)
  return weekly === undefined ? [{ start: now, end: until }] : openWindows(weekly, target.timezone, now, until).slice(0, count)
}
