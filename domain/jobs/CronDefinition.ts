/**
 * Recurring jobs. Every process computes the same slots from the schedule and
 * enqueues each with the unique key `cron:<name>:<slot>`, so any number of
 * replicas run a slot exactly once without electing a leader.
 */
import * as Cron from "effect/Cron"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type { JobDefinition } from "./JobDefinition.ts"

export interface CronDefinition<A = unknown, I = unknown> {
  readonly name: string
  readonly schedule: Cron.Cron
  readonly expression: string
  readonly job: JobDefinition<A, I>
  readonly args: A
}

export interface CronDefinitionInput<A, I> {
  readonly name: string
  /** Five fields (minute precision) or six (with seconds first), as in crontab. */
  readonly schedule: string
  /** IANA time zone the schedule is read in; UTC by default. */
  readonly timeZone?: string
  readonly job: JobDefinition<A, I>
  readonly args: A
}

const NAME = /^[a-z][a-z0-9_.-]{0,62}$/

export const defineCron = <A, I>(input: CronDefinitionInput<A, I>): CronDefinition<A, I> => {
  if (!NAME.test(input.name)) throw new Error(`defineCron: name "${input.name}" must match ${NAME}`)
  const parsed = Cron.parse(input.schedule, input.timeZone)
  if (Either.isLeft(parsed)) throw new Error(`defineCron(${input.name}): ${parsed.left.message}`)
  return { name: input.name, schedule: parsed.right, expression: input.schedule, job: input.job, args: input.args }
}

/** The unique key of one slot: the same in every process. */
export const slotKey = (name: string, slot: Date): string => `cron:${name}:${slot.toISOString()}`

/** The first slot strictly after `after`. */
export const nextSlot = (schedule: Cron.Cron, after: Date): Date => Cron.next(schedule, after)

/** The latest slot at or before `now`. */
export const latestSlot = (schedule: Cron.Cron, now: Date): Date => {
  const second = new Date(Math.floor(now.getTime() / 1_000) * 1_000) // schedules have second precision
  return Cron.match(schedule, second) ? second : Cron.prev(schedule, second)
}

/**
 * The slot to run on start-up when everything was down: the latest slot at or
 * before `now`, if it is no older than the catch-up window. Older misses are
 * skipped; at most one slot is caught up per schedule.
 */
export const catchUpSlot = (schedule: Cron.Cron, now: Date, window: Duration.Duration): Date | undefined => {
  const slot = latestSlot(schedule, now)
  return now.getTime() - slot.getTime() <= Duration.toMillis(window) ? slot : undefined
}
