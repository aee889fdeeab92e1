/**
 * What an operator does to the job engine, whichever way they ask (the admin
 * API, src/http/routes/AdminJobs.ts, or the console, src/console/pages):
 * read the queues (and what each finished in the last hour), pause and resume
 * one, retry or cancel a job, read, run, enable and disable the cron
 * schedules, list the processes and drain one.
 * `by` names who asked (the admin token, or a console operator). Names the
 * deployment does not run are `NotFound`; a job whose state does not allow the
 * change is a `Conflict`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { type CronDefinition, nextSlot } from "../../domain/jobs/CronDefinition.ts"
import type { OperatorAction } from "../../domain/jobs/BulkOperation.ts"
import type { JobDefinition } from "../../domain/jobs/JobDefinition.ts"
import { isTerminal } from "../../domain/jobs/JobState.ts"
import { jobsFinishedPerMinute, type MinuteCount } from "../../infra/console/ConsoleStats.ts"
import { EngineControls } from "../../infra/jobs/EngineControls.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../infra/jobs/ProcessRegistry.ts"
import { runNow } from "../../supervisors/CronScheduler.ts"
import { Conflict, NotFound, orNotFound } from "../Failures.ts"

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions of different argument types share one list
type AnyDefinition = JobDefinition<any, any>

/** What each action did, in words. */
const PAST: Readonly<Record<OperatorAction, string>> = { retry: "retried", cancel: "cancelled", delete: "deleted (only finished jobs are)", runNow: "run now (only scheduled and retryable jobs wait)" }

export const engineAdmin = (definitions: ReadonlyArray<AnyDefinition>, crons: ReadonlyArray<CronDefinition>) => {
  const knownQueues = new Set(definitions.map((d) => d.queue))
  const byName = new Map(crons.map((c) => [c.name, c]))
  const sortedCrons = [...crons].sort((a, b) => a.name.localeCompare(b.name))

  /**
   * Every queue: those with jobs, those live processes run, and those the job kinds name; each with its depth,
   * capacity (summed, and each live process's, largest first) and pause.
   */
  const queues = Effect.gen(function* () {
    const store = yield* JobStore
    const [stats, processes, paused] = yield* Effect.all(
      [store.queueStats, Effect.flatMap(ProcessRegistry, (r) => r.list), Effect.flatMap(EngineControls, (c) => c.pausedQueues)],
      { concurrency: 3 }
    )
    const perProcess = new Map<string, Array<number>>()
    for (const p of processes) for (const [queue, load] of Object.entries(p.queues)) perProcess.set(queue, [...(perProcess.get(queue) ?? []), load.concurrency])
    const names = new Set([...stats.map((s) => s.queue), ...perProcess.keys(), ...knownQueues])
    return [...names].sort().map((queue) => {
      const s = stats.find((x) => x.queue === queue)
      const pause = paused.get(queue)
      return {
        queue,
        available: s?.counts.available ?? 0,
        scheduled: s?.counts.scheduled ?? 0,
        running: s?.counts.running ?? 0,
        retryable: s?.counts.retryable ?? 0,
        discarded: s?.counts.discarded ?? 0,
        oldestAvailableAgeSeconds: s?.oldestAvailableAgeSeconds ?? 0,
        concurrency: (perProcess.get(queue) ?? []).reduce((sum, n) => sum + n, 0),
        perProcess: [...(perProcess.get(queue) ?? [])].sort((a, b) => b - a),
        paused: pause !== undefined,
        ...(pause === undefined ? {} : { pausedAt: pause.pausedAt, pausedBy: pause.pausedBy })
      }
    })
  })

  /**
   * What each queue finished in each minute of the last hour (oldest first, the current minute last),
   * with the hour's totals and its busiest minute; queues that finished nothing are absent.
   */
  const throughput = Effect.map(jobsFinishedPerMinute(60), (byQueue) => {
    const views = new Map<string, QueueThroughput>()
    for (const [queue, minutes] of byQueue) {
      views.set(queue, {
        minutes,
        completed: minutes.reduce((sum, m) => sum + m.completed, 0),
        discarded: minutes.reduce((sum, m) => sum + m.discarded, 0),
        peak: Math.max(0, ...minutes.map((m) => m.completed + m.discarded))
      })
    }
    return views as ReadonlyMap<string, QueueThroughput>
  })

  /** Pauses or resumes a queue some job kind runs on; the queue as it is then. */
  const setPaused = (queue: string, paused: boolean, by: string) =>
    Effect.gen(function* () {
      if (!knownQueues.has(queue)) return yield* new NotFound({ detail: `no job kind runs on a queue named ${queue}` })
      const controls = yield* EngineControls
      yield* paused ? controls.pauseQueue(queue, by) : controls.resumeQueue(queue, by)
      const view = (yield* queues).find((q) => q.queue === queue)
      if (view === undefined) return yield* Effect.dieMessage(`queue ${queue} missing from the queue views`) // every known queue has one
      return view
    })

  /** An operator's action on one job (retry, cancel, run now, delete a finished one); the job after it (a deleted one as it was). */
  const operate = (id: string, action: OperatorAction) =>
    Effect.gen(function* () {
      const result = yield* Effect.flatMap(JobStore, (store) => store.operate(id, action))
      switch (result._tag) {
        case "Done":
          return result.job
        case "NotFound":
          return yield* new NotFound({ detail: `no job ${id}` })
        case "Illegal":
          return yield* new Conflict({
            detail: `a ${result.state} job cannot be ${PAST[action]}${isTerminal(result.state) || action === "retry" || action === "delete" ? "" : " now"}`,
            extra: { state: result.state }
          })
      }
    })

  /** The views of these schedules (all by default, by name), read in two statements. */
  const cronViews = (selected: ReadonlyArray<CronDefinition> = sortedCrons) =>
    Effect.gen(function* () {
      const controls = yield* EngineControls
      const [states, runs] = yield* Effect.all([controls.cronControls, controls.lastCronRuns(selected.map((c) => c.name))], { concurrency: 2 })
      const now = new Date(yield* Clock.currentTimeMillis)
      return selected.map((cron) => {
        const state = states.get(cron.name)
        const run = runs.get(cron.name)
        return {
          name: cron.name,
          schedule: cron.expression,
          kind: cron.job.kind,
          queue: cron.job.queue,
          enabled: state?.enabled ?? true,
          ...(state === undefined ? {} : { updatedAt: state.updatedAt, updatedBy: state.updatedBy }),
          nextRunAt: nextSlot(cron.schedule, now),
          ...(run === undefined ? {} : { lastRun: run })
        }
      })
    })

  const cronNamed = (name: string) => Effect.fromNullable(byName.get(name)).pipe(Effect.mapError(() => new NotFound({ detail: `no cron schedule named ${name}` })))

  /** Enqueues the schedule's job to run now, leaving its slots as they are; the job. */
  const runCron = (name: string) =>
    Effect.gen(function* () {
      const cron = yield* cronNamed(name)
      // the schedule's own arguments: invalid ones are a bug in its definition, not the caller's
      const inserted = yield* runNow(cron).pipe(Effect.catchTag("InvalidJob", (error) => Effect.die(error)))
      return yield* Effect.flatMap(JobStore, (store) => store.get(inserted.id)).pipe(Effect.flatMap(orNotFound("job", inserted.id)))
    })

  /** Enables or disables a schedule in every process; the schedule as it is then. */
  const setCronEnabled = (name: string, enabled: boolean, by: string) =>
    Effect.gen(function* () {
      const cron = yield* cronNamed(name)
      yield* Effect.flatMap(EngineControls, (controls) => controls.setCronEnabled(cron.name, enabled, by))
      const [view] = yield* cronViews([cron])
      if (view === undefined) return yield* Effect.dieMessage(`cron ${cron.name} has no view`)
      return view
    })

  const processes = Effect.flatMap(ProcessRegistry, (r) => r.list)

  /** Asks a live process to drain and stop; the process as it is then. */
  const drain = (id: string, by: string) =>
    Effect.gen(function* () {
      const found = yield* Effect.flatMap(EngineControls, (controls) => controls.requestDrain(id, by))
      const lower = id.toLowerCase() // as Postgres writes a uuid
      const record = found ? (yield* processes).find((p) => p.id === lower) : undefined
      // gone already (it drained, or was pruned) between the request and the read: no such process now
      if (record === undefined) return yield* new NotFound({ detail: `no process ${id}` })
      return record
    })

  return { queues, throughput, setPaused, operate, cronViews, runCron, setCronEnabled, processes, drain } as const
}

export type EngineAdmin = ReturnType<typeof engineAdmin>

/** A queue's last hour: jobs finished per minute (oldest first), the totals, and the most in one minute. */
export interface QueueThroughput {
  readonly minutes: ReadonlyArray<MinuteCount>
  readonly completed: number
  readonly discarded: number
  readonly peak: number
}
