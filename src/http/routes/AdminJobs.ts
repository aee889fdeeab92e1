/**
 * The admin API of the job engine: queues (and their pause), jobs (list,
 * show, enqueue, retry, cancel), cron schedules (enable, disable, run now) and
 * processes (and their drain), behind the admin token. Each handler is decode
 * (the contract, contract/Jobs.ts) -> the job store or the engine's controls
 * -> encode (the view's schema). Controls are recorded as done by `admin-token`.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as SchemaAST from "effect/SchemaAST"
import type { CronDefinition } from "../../../domain/jobs/CronDefinition.ts"
import { TOKEN_OPERATOR } from "../../../domain/console/Operator.ts"
import type { JobDefinition } from "../../../domain/jobs/JobDefinition.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { engineAdmin } from "../../jobs/EngineAdmin.ts"
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
  runJobNow,
  deleteJob,
  runCron
} from "../contract/Jobs.ts"
import { orNotFound } from "../../Failures.ts"
import type { HttpEnv } from "../Handler.ts"
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
const ADMIN_ACTOR = TOKEN_OPERATOR

export const adminJobRoutes = (definitions: ReadonlyArray<AnyDefinition>, crons: ReadonlyArray<CronDefinition> = []) => {
  const byKind = new Map(definitions.map((d) => [d.kind, d]))
  const engine = engineAdmin(definitions, crons)
  const router = new Hono<HttpEnv>()

  implement(router, listQueues, () => Effect.flatMap(engine.queues, (queues) => reply(QueueList, queues)))

  for (const [spec, pause] of [
    [pauseQueue, true],
    [resumeQueue, false]
  ] as const) {
    implement(router, spec, ({ params }) => Effect.flatMap(engine.setPaused(params.queue, pause, ADMIN_ACTOR), (view) => reply(QueueView, view)))
  }

  implement(router, listJobs, ({ query }) =>
    Effect.gen(function* () {
      const items = yield* Effect.flatMap(JobStore, (store) =>
        store.list({ state: query.state, queue: query.queue, kind: query.kind, search: query.q, before: query.cursor, limit: query.limit })
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

  for (const [spec, action] of [
    [retryJob, "retry"],
    [cancelJob, "cancel"],
    [runJobNow, "runNow"]
  ] as const) {
    implement(router, spec, ({ params }) => Effect.flatMap(engine.operate(params.id, action), (job) => reply(JobView, job)))
  }

  implement(router, deleteJob, ({ params }) => Effect.as(engine.operate(params.id, "delete"), new Response(null, { status: 204 })))

  implement(router, listCrons, () => Effect.flatMap(engine.cronViews(), (views) => reply(CronList, views)))

  implement(router, runCron, ({ params }) => Effect.flatMap(engine.runCron(params.name), (job) => reply(JobView, job, 201)))

  for (const [spec, enabled] of [
    [enableCron, true],
    [disableCron, false]
  ] as const) {
    implement(router, spec, ({ params }) => Effect.flatMap(engine.setCronEnabled(params.name, enabled, ADMIN_ACTOR), (view) => reply(CronView, view)))
  }

  implement(router, listProcesses, () => Effect.flatMap(engine.processes, (processes) => reply(ProcessList, processes)))

  implement(router, drainProcess, ({ params }) => Effect.flatMap(engine.drain(params.id, ADMIN_ACTOR), (record) => reply(ProcessView, record, 202)))

  return router
}
