/**
 * The admin API of the job engine: queues, jobs (list, show, enqueue, retry,
 * cancel) and processes, behind the admin token. Each handler is decode (the
 * contract, contract/Jobs.ts) -> the job store -> encode (the view's schema).
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as SchemaAST from "effect/SchemaAST"
import type { JobDefinition } from "../../../domain/jobs/JobDefinition.ts"
import { isTerminal } from "../../../domain/jobs/JobState.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { type FieldError, validationFailed, validationFailedAt } from "../../Failures.ts"
import {
  cancelJob,
  EnqueuedJobView,
  enqueueJob,
  getJob,
  JobPage,
  JobView,
  listJobs,
  listProcesses,
  listQueues,
  ProcessList,
  QueueList,
  retryJob
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

export const adminJobRoutes = (definitions: ReadonlyArray<AnyDefinition>) => {
  const byKind = new Map(definitions.map((d) => [d.kind, d]))
  const router = new Hono<HttpEnv>()

  implement(router, listQueues, () =>
    Effect.gen(function* () {
      const store = yield* JobStore
      const [stats, processes] = yield* Effect.all([store.queueStats, Effect.flatMap(ProcessRegistry, (r) => r.list)], { concurrency: 2 })
      const concurrency = new Map<string, number>()
      for (const p of processes) for (const [queue, load] of Object.entries(p.queues)) concurrency.set(queue, (concurrency.get(queue) ?? 0) + load.concurrency)
      const names = new Set([...stats.map((s) => s.queue), ...concurrency.keys(), ...definitions.map((d) => d.queue)])
      const queues = [...names].sort().map((queue) => {
        const s = stats.find((x) => x.queue === queue)
        return {
          queue,
          available: s?.counts.available ?? 0,
          scheduled: s?.counts.scheduled ?? 0,
          running: s?.counts.running ?? 0,
          retryable: s?.counts.retryable ?? 0,
          discarded: s?.counts.discarded ?? 0,
          oldestAvailableAgeSeconds: s?.oldestAvailableAgeSeconds ?? 0,
          concurrency: concurrency.get(queue) ?? 0
        }
      })
      return yield* reply(QueueList, queues)
    })
  )

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

  implement(router, listProcesses, () => Effect.flatMap(Effect.flatMap(ProcessRegistry, (r) => r.list), (processes) => reply(ProcessList, processes)))

  return router
}
