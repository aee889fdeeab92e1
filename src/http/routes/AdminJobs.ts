/**
 * The admin API of the job engine: queues (and their pause), jobs (list,
 * show, enqueue, retry, cancel), cron schedules (enable, disable, run now) and
 * processes (and their drain), behind the admin token. Each handler is decode
 * (the contract, contract/Jobs.ts) -> the job store or the engine's controls
 * -> encode (the view's schema). Controls are recorded as done by `admin-token`.
 */
import { Hono } from "hono"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as SchemaAST from "effect/SchemaAST"
import { type CronDefinition, nextSlot } from "../../../domain/jobs/CronDefinition.ts"
import type { JobDefinition } from "../../../domain/jobs/JobDefinition.ts"
import { isTerminal } from "../../../domain/jobs/JobState.ts"
import { EngineControls } from "../../../infra/jobs/EngineControls.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { runNow } from "../../../supervisors/CronScheduler.ts"
import { type FieldError, validationFailed, validationFailedAt } from "../../Failures.ts"
import {
  cancelJob,
  CronList,
  CronView,
  disableCron,
  drainProcess,
  enableCron,
  EnqueuedJobView,
  enqueueJob,
  getJob,
  JobPage,
  JobView,
  listCrons,
  listJobs,
  listProcesses,
  listQueues,
  pauseQueue,
  ProcessList,
  ProcessView,
  QueueList,
  QueueView,
  resumeQueue,
  retryJob,
  runCron
} from "../contract/Jobs.ts"
import { orNotFound } from "../../Failures.ts"
import type { HttpEnv } from "../Handler.ts"
import { Conflict, NotFound } from "../Problems.ts"
import { decodeAll, implement, pointer, reply } from "../Validate.ts"

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions of different argument types share one list
type AnyDefinition = JobDefinition<any, any>

/** The argument names of a kind whose (encoded) arguments are a struct without index signatures. */
const argumentNames = (definition: AnyDefinition): ReadonlySet<string> | undefined => {
  const ast = SchemaAST.encodedAST(definition.args.ast)
  return SchemaAST.isTypeLiteral(ast) && ast.indexSignatures.length === 0 ? new Set(ast.propertySignatures.map((p) => String(p.name))) : undefined
}

/** `args` decoded by the kind's own schema; every error located under `/args`. */
const decodeArgs = (definition: AnyDefinition, args: Readonly<Record<string, unknown>>) =>
  Either.match(decodeAll(definition.args, args, "body", "error"), {
    onLeft: (errors) => Effect.fail(validationFailed(errors.map((e) => ({ ...e, path: `/args${e.path}` })))),
    onRight: (decoded: unknown) => {
      // an empty Struct accepts any object: name the keys no argument of the kind has
      const known = argumentNames(definition)
      const unknown: ReadonlyArray<FieldError> = (known === undefined ? [] : Object.keys(args).filter((key) => !known.has(key))).map((key) => ({
        in: "body",
        path: pointer(["args", key]),
        message: `is not an argument of ${definition.kind}`
      }))
      return unknown.length === 0 ? Effect.succeed(decoded) : Effect.fail(validationFailed(unknown))
    }
  })

/** The engine's own paths (`delay`, `args.name`) as pointers into the body (`/delaySeconds`, `/args/name`). */
const bodyPointer = (path: string): string => (path === "" ? "" : path === "delay" ? "/delaySeconds" : pointer(path.split(".")))

/** Who the admin API's controls are recorded as done by (the console passes its operator's name). */
const ADMIN_ACTOR = "admin-token"

export const adminJobRoutes = (definitions: ReadonlyArray<AnyDefinition>, crons: ReadonlyArray<CronDefinition> = []) => {
  const byKind = new Map(definitions.map((d) => [d.kind, d]))
  const knownQueues = new Set(definitions.map((d) => d.queue))
  const byName = new Map(crons.map((c) => [c.name, c]))
  const router = new Hono<HttpEnv>()

  /** Every queue's view: those with jobs, those live processes run, and those the job kinds name. */
  const queueViews = Effect.gen(function* () {
    const store = yield* JobStore
    const [stats, processes, paused] = yield* Effect.all(
      [store.queueStats, Effect.flatMap(ProcessRegistry, (r) => r.list), Effect.flatMap(EngineControls, (c) => c.pausedQueues)],
      { concurrency: 3 }
    )
    const concurrency = new Map<string, number>()
    for (const p of processes) for (const [queue, load] of Object.entries(p.queues)) concurrency.set(queue, (concurrency.get(queue) ?? 0) + load.concurrency)
    const names = new Set([...stats.map((s) => s.queue), ...concurrency.keys(), ...knownQueues])
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
        concurrency: concurrency.get(queue) ?? 0,
        paused: pause !== undefined,
        ...(pause === undefined ? {} : { pausedAt: pause.pausedAt, pausedBy: pause.pausedBy })
      }
    })
  })

  implement(router, listQueues, () => Effect.flatMap(queueViews, (queues) => reply(QueueList, queues)))

  for (const [spec, pause] of [
    [pauseQueue, true],
    [resumeQueue, false]
  ] as const) {
    implement(router, spec, ({ params }) =>
      Effect.gen(function* () {
        if (!knownQueues.has(params.queue)) return yield* new NotFound({ detail: `no job kind runs on a queue named ${params.queue}` })
        const controls = yield* EngineControls
        yield* pause ? controls.pauseQueue(params.queue, ADMIN_ACTOR) : controls.resumeQueue(params.queue, ADMIN_ACTOR)
        const view = (yield* queueViews).find((q) => q.queue === params.queue)
        if (view === undefined) return yield* Effect.dieMessage(`queue ${params.queue} missing from the queue views`) // every known queue has one
        return yield* reply(QueueView, view)
      })
    )
  }

  implement(router, listJobs, ({ query }) =>
    Effect.gen(function* () {
      const items = yield* Effect.flatMap(JobStore, (store) =>
        store.list({ state: query.state, queue: query.queue, kind: query.kind, before: query.cursor, limit: query.limit })
      )
      const last = items.at(-1)
      return yield* reply(JobPage, { items, ...(items.length === query.limit && last !== undefined ? { nextCursor: last.id } : {}) })
    })
  )

  implement(router, enqueueJob, ({ body }) =>
    Effect.gen(function* () {
      const definition = byKind.get(body.kind)
      if (definition === undefined) return yield* validationFailedAt("body", "/kind", `must be one of ${[...byKind.keys()].join(", ")}`)
      const args = yield* decodeArgs(definition, body.args)
      const inserted = yield* enqueue(definition, args, {
        runAt: body.runAt,
        delay: body.delaySeconds === undefined ? undefined : body.delaySeconds * 1000,
        priority: body.priority,
        maxAttempts: body.maxAttempts,
        uniqueKey: body.uniqueKey
      }).pipe(Effect.catchTag("InvalidJob", (error) => Effect.fail(validationFailedAt("body", bodyPointer(error.path), error.message))))
      const job = yield* Effect.flatMap(JobStore, (store) => store.get(inserted.id)).pipe(Effect.flatMap(orNotFound("job", inserted.id)))
      return yield* reply(EnqueuedJobView, { ...job, duplicate: inserted.duplicate }, inserted.duplicate ? 200 : 201)
    })
  )

  implement(router, getJob, ({ params }) =>
    Effect.flatMap(JobStore, (store) => store.get(params.id)).pipe(
      Effect.flatMap(orNotFound("job", params.id)),
      Effect.flatMap((job) => reply(JobView, job))
    )
  )

  for (const [spec, event, done] of [
    [retryJob, "operatorRetry", "retried"],
    [cancelJob, "cancel", "cancelled"]
  ] as const) {
    implement(router, spec, ({ params }) =>
      Effect.gen(function* () {
        const result = yield* Effect.flatMap(JobStore, (store) => store.operate(params.id, event))
        switch (result._tag) {
          case "Done":
            return yield* reply(JobView, result.job)
          case "NotFound":
            return yield* new NotFound({ detail: `no job ${params.id}` })
          case "Illegal":
            return yield* new Conflict({
              detail: `a ${result.state} job cannot be ${done}${isTerminal(result.state) || event === "operatorRetry" ? "" : " now"}`,
              extra: { state: result.state }
            })
        }
      })
    )
  }

  /** The views of these schedules, read in two statements. */
  const cronViews = (selected: ReadonlyArray<CronDefinition>) =>
    Effect.gen(function* () {
      const controls = yield* EngineControls
      const names = selected.map((c) => c.name)
      const [states, runs] = yield* Effect.all([controls.cronControls, controls.lastCronRuns(names)], { concurrency: 2 })
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

  const cronNamed = (name: string) =>
    Effect.fromNullable(byName.get(name)).pipe(Effect.mapError(() => new NotFound({ detail: `no cron schedule named ${name}` })))

  implement(router, listCrons, () =>
    Effect.flatMap(cronViews([...crons].sort((a, b) => a.name.localeCompare(b.name))), (views) => reply(CronList, views))
  )

  implement(router, runCron, ({ params }) =>
    Effect.gen(function* () {
      const cron = yield* cronNamed(params.name)
      // the schedule's own arguments: invalid ones are a bug in its definition, not the caller's
      const inserted = yield* runNow(cron).pipe(Effect.catchTag("InvalidJob", (error) => Effect.die(error)))
      const job = yield* Effect.flatMap(JobStore, (store) => store.get(inserted.id)).pipe(Effect.flatMap(orNotFound("job", inserted.id)))
      return yield* reply(JobView, job, 201)
    })
  )

  for (const [spec, enabled] of [
    [enableCron, true],
    [disableCron, false]
  ] as const) {
    implement(router, spec, ({ params }) =>
      Effect.gen(function* () {
        const cron = yield* cronNamed(params.name)
        yield* Effect.flatMap(EngineControls, (controls) => controls.setCronEnabled(cron.name, enabled, ADMIN_ACTOR))
        const [view] = yield* cronViews([cron])
        if (view === undefined) return yield* Effect.dieMessage(`cron ${cron.name} has no view`)
        return yield* reply(CronView, view)
      })
    )
  }

  implement(router, listProcesses, () => Effect.flatMap(Effect.flatMap(ProcessRegistry, (r) => r.list), (processes) => reply(ProcessList, processes)))

  implement(router, drainProcess, ({ params }) =>
    Effect.gen(function* () {
      const found = yield* Effect.flatMap(EngineControls, (controls) => controls.requestDrain(params.id, ADMIN_ACTOR))
      const id = params.id.toLowerCase() // as Postgres writes a uuid
      const record = found ? (yield* Effect.flatMap(ProcessRegistry, (r) => r.list)).find((p) => p.id === id) : undefined
      // gone already (it drained, or was pruned) between the request and the read: no such process now
      if (record === undefined) return yield* new NotFound({ detail: `no process ${params.id}` })
      return yield* reply(ProcessView, record, 202)
    })
  )

  return router
}
