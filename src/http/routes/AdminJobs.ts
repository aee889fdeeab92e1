/**
 * The admin API of the job engine: queues, jobs (list, show, enqueue, retry,
 * cancel) and processes. Mounted under `/admin/api` behind the admin token.
 */
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type { JobDefinition } from "../../../domain/jobs/JobDefinition.ts"
import { isTerminal, type JobState, JobStates } from "../../../domain/jobs/JobState.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import type { JobRecord } from "../../../infra/jobs/JobRecords.ts"
import { isJobId, JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import type { FieldError } from "../Problems.ts"
import { Conflict, NotFound, ValidationFailed } from "../Problems.ts"
import { found, type HttpEnv, json, readJson, run, validated } from "../Handler.ts"

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions of different argument types share one list
type AnyDefinition = JobDefinition<any, any>

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 500

/** A job as the admin API shows it. */
export const jobView = (job: JobRecord) => ({
  id: job.id,
  queue: job.queue,
  kind: job.kind,
  state: job.state,
  priority: job.priority,
  attempt: job.attempt,
  maxAttempts: job.maxAttempts,
  runAt: job.runAt.toISOString(),
  args: job.args,
  errors: job.errors,
  uniqueKey: job.uniqueKey,
  concurrencyKey: job.concurrencyKey,
  waitingForSlot: job.waitingForSlot,
  attemptedAt: job.attemptedAt?.toISOString() ?? null,
  finishedAt: job.finishedAt?.toISOString() ?? null,
  createdAt: job.createdAt.toISOString()
})

const isState = (value: string): value is JobState => (JobStates as ReadonlyArray<string>).includes(value)

/** Parses `?state=&queue=&kind=&limit=&cursor=`; every problem is reported, none ignored. */
const listQuery = (query: Record<string, string>) => {
  const errors: Array<FieldError> = []
  const { state, queue, kind, limit, cursor } = query
  if (state !== undefined && !isState(state)) errors.push({ path: "state", message: `must be one of ${JobStates.join(", ")}` })
  let n = DEFAULT_LIMIT
  if (limit !== undefined) {
    n = Number(limit)
    if (!/^\d+$/.test(limit) || n < 1 || n > MAX_LIMIT) errors.push({ path: "limit", message: `must be an integer from 1 to ${MAX_LIMIT}` })
  }
  if (cursor !== undefined && !isJobId(cursor)) errors.push({ path: "cursor", message: "is not a cursor this API returned" })
  for (const [name, value] of [["queue", queue], ["kind", kind]] as const) {
    if (value !== undefined && !/^[\x21-\x7e]{1,200}$/.test(value)) errors.push({ path: name, message: "must be 1 to 200 visible ASCII characters" })
  }
  return validated(
    { state: state as JobState | undefined, queue: queue || undefined, kind: kind || undefined, before: cursor, limit: n },
    errors
  )
}

const EnqueueBody = Schema.Struct({
  kind: Schema.String,
  args: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) }),
  runAt: Schema.optional(Schema.Date),
  delaySeconds: Schema.optional(Schema.Number.pipe(Schema.nonNegative(), Schema.lessThanOrEqualTo(366 * 86_400))),
  priority: Schema.optional(Schema.Int),
  maxAttempts: Schema.optional(Schema.Int),
  uniqueKey: Schema.optional(Schema.String)
})

/** The argument names of a kind whose (encoded) arguments are a struct without index signatures. */
const argumentNames = (definition: AnyDefinition): ReadonlySet<string> | undefined => {
  const ast = SchemaAST.encodedAST(definition.args.ast)
  return SchemaAST.isTypeLiteral(ast) && ast.indexSignatures.length === 0 ? new Set(ast.propertySignatures.map((p) => String(p.name))) : undefined
}

/** One entry per field path, its messages joined. */
const fieldErrors = (error: ParseResult.ParseError, prefix: string): ReadonlyArray<FieldError> => {
  const byPath = new Map<string, Array<string>>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".")
    byPath.set(path, [...(byPath.get(path) ?? []), issue.message])
  }
  return [...byPath].map(([path, messages]) => ({ path, message: messages.join("; ") }))
}

const decodeBody = <A, I>(schema: Schema.Schema<A, I>, body: unknown, prefix = "") =>
  Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })(body).pipe(
    Effect.mapError((error) => new ValidationFailed({ detail: "the body does not match the request schema", errors: fieldErrors(error, prefix) }))
  )

export const adminJobRoutes = (definitions: ReadonlyArray<AnyDefinition>) => {
  const byKind = new Map(definitions.map((d) => [d.kind, d]))
  const router = new Hono<HttpEnv>()

  router.get("/queues", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const store = yield* JobStore
        const [stats, processes] = yield* Effect.all([store.queueStats, Effect.flatMap(ProcessRegistry, (r) => r.list)], { concurrency: 2 })
        const concurrency = new Map<string, number>()
        for (const p of processes) for (const [queue, load] of Object.entries(p.queues)) concurrency.set(queue, (concurrency.get(queue) ?? 0) + load.concurrency)
        const names = new Set([...stats.map((s) => s.queue), ...concurrency.keys(), ...definitions.map((d) => d.queue)])
        return json(
          [...names].sort().map((queue) => {
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
        )
      })
    )
  )

  router.get("/jobs", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const filter = yield* listQuery(c.req.query())
        const items = yield* Effect.flatMap(JobStore, (store) => store.list(filter))
        const last = items.at(-1)
        return json({ items: items.map(jobView), ...(items.length === filter.limit && last !== undefined ? { nextCursor: last.id } : {}) })
      })
    )
  )

  router.post("/jobs", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const body = yield* decodeBody(EnqueueBody, yield* readJson(c))
        const definition = byKind.get(body.kind)
        if (definition === undefined) {
          return yield* new ValidationFailed({
            detail: `unknown job kind ${body.kind}`,
            errors: [{ path: "kind", message: `must be one of ${[...byKind.keys()].join(", ")}` }]
          })
        }
        const args = yield* decodeBody(definition.args, body.args, "args")
        // an empty Struct accepts any object: name the keys no argument of the kind has
        const known = argumentNames(definition)
        const unknown = known === undefined ? [] : Object.keys(body.args).filter((key) => !known.has(key))
        yield* validated(undefined, unknown.map((key) => ({ path: `args.${key}`, message: `is not an argument of ${definition.kind}` })))
        const inserted = yield* enqueue(definition, args, {
          runAt: body.runAt,
          delay: body.delaySeconds === undefined ? undefined : body.delaySeconds * 1000,
          priority: body.priority,
          maxAttempts: body.maxAttempts,
          uniqueKey: body.uniqueKey
        }).pipe(
          Effect.catchTag("InvalidJob", (error) =>
            Effect.fail(new ValidationFailed({ detail: error.message, errors: [{ path: error.path === "delay" ? "delaySeconds" : error.path, message: error.message }] }))
          )
        )
        const job = yield* Effect.flatMap(JobStore, (store) => store.get(inserted.id)).pipe(Effect.flatMap(found("job", inserted.id)))
        return json({ ...jobView(job), duplicate: inserted.duplicate }, inserted.duplicate ? 200 : 201)
      })
    )
  )

  router.get("/jobs/:id", (c) =>
    run(
      c,
      Effect.flatMap(JobStore, (store) => store.get(c.req.param("id"))).pipe(
        Effect.flatMap(found("job", c.req.param("id"))),
        Effect.map((job) => json(jobView(job)))
      )
    )
  )

  for (const [action, event] of [["retry", "operatorRetry"], ["cancel", "cancel"]] as const) {
    router.post(`/jobs/:id/${action}`, (c) =>
      run(
        c,
        Effect.gen(function* () {
          const id = c.req.param("id")
          const result = yield* Effect.flatMap(JobStore, (store) => store.operate(id, event))
          switch (result._tag) {
            case "Done":
              return json(jobView(result.job))
            case "NotFound":
              return yield* new NotFound({ detail: `no job ${id}` })
            case "Illegal":
              return yield* new Conflict({
                detail: `a ${result.state} job cannot be ${action === "retry" ? "retried" : "cancelled"}${isTerminal(result.state) || action === "retry" ? "" : " now"}`,
                extra: { state: result.state }
              })
          }
        })
      )
    )
  }

  router.get("/processes", (c) =>
    run(
      c,
      Effect.map(Effect.flatMap(ProcessRegistry, (r) => r.list), (processes) =>
        json(
          processes.map((p) => ({
            id: p.id,
            role: p.role,
            hostname: p.hostname,
            pid: p.pid,
            startedAt: p.startedAt.toISOString(),
            heartbeatAt: p.heartbeatAt.toISOString(),
            queues: p.queues
          }))
        )
      )
    )
  )

  return router
}
