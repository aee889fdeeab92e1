/**
 * The admin API of the job engine (API.md "Admin"): queues, jobs (list, show,
 * enqueue, retry, cancel) and processes, behind the admin token. The job view
 * is the domain's Job schema (domain/jobs/Job.ts) without the engine's
 * bookkeeping (its lock holder and concurrency limit).
 */
import * as Schema from "effect/Schema"
import { PriorityRange } from "../../../domain/jobs/JobDefinition.ts"
import { Job, JobId, JobStateSchema } from "../../../domain/jobs/Job.ts"
import { JobStates } from "../../../domain/jobs/JobState.ts"
import { Timestamp } from "../../../domain/Timestamp.ts"
import { Limits } from "../../../infra/jobs/Jobs.ts"
import { route } from "../Contract.ts"
import { IdParams, Limit, Page } from "./Fields.ts"

const MAX_LIMIT = 500

/** A job as the admin API shows it. */
export const JobView = Job.pick(
  "id",
  "queue",
  "kind",
  "state",
  "priority",
  "attempt",
  "maxAttempts",
  "runAt",
  "args",
  "errors",
  "uniqueKey",
  "concurrencyKey",
  "waitingForSlot",
  "attemptedAt",
  "finishedAt",
  "createdAt"
).annotations({ identifier: "Job" })

/** The answer to an enqueue: the job, and whether it already existed under its unique key. */
export const EnqueuedJobView = Schema.Struct({
  ...JobView.fields,
  duplicate: Schema.Boolean.annotations({ description: "true when a job with this uniqueKey already existed: this is that job, nothing was inserted" })
}).annotations({ identifier: "EnqueuedJob" })

export const JobPage = Page(JobView, "JobPage")

/** One queue's depth and the capacity the live processes give it. */
export const QueueView = Schema.Struct({
  queue: Schema.String,
  available: Schema.Int,
  scheduled: Schema.Int,
  running: Schema.Int,
  retryable: Schema.Int,
  discarded: Schema.Int,
  oldestAvailableAgeSeconds: Schema.Number.annotations({ description: "how long the oldest due job has waited to be claimed" }),
  concurrency: Schema.Int.annotations({ description: "jobs of this queue the live processes run at once, summed" })
}).annotations({ identifier: "Queue" })

export const QueueList = Schema.Array(QueueView)

/** A live process: its role, where it runs, and its load per queue. */
export const ProcessView = Schema.Struct({
  id: Schema.UUID,
  role: Schema.String,
  hostname: Schema.String,
  pid: Schema.Int,
  startedAt: Timestamp,
  heartbeatAt: Timestamp,
  queues: Schema.Record({ key: Schema.String, value: Schema.Struct({ concurrency: Schema.Int, running: Schema.Int }) })
}).annotations({ identifier: "Process" })

export const ProcessList = Schema.Array(ProcessView)

/** A queue or kind name in a filter: printable ASCII without spaces. */
const NameFilter = (what: string) =>
  Schema.String.pipe(Schema.pattern(/^[\x21-\x7e]{1,200}$/, { message: () => "must be 1 to 200 visible ASCII characters" })).annotations({
    description: `only jobs of this ${what}`
  })

export const JobsQuery = Schema.Struct({
  state: Schema.optional(JobStateSchema.annotations({ message: () => `must be one of ${JobStates.join(", ")}`, description: "only jobs in this state" })),
  queue: Schema.optional(NameFilter("queue")),
  kind: Schema.optional(NameFilter("kind")),
  limit: Limit(50, MAX_LIMIT),
  cursor: Schema.optional(JobId.annotations({ message: () => "is not a cursor this API returned", description: "`nextCursor` of the previous page" }))
})

/**
 * The body of an enqueue. `args` is checked against the kind's own schema by
 * the handler (errors at `/args/...`); the remaining bounds (a storable
 * unique key, runAt between 1970 and 9999, runAt or delaySeconds) are the
 * engine's (infra/jobs/Jobs.ts).
 */
export const EnqueueBody = Schema.Struct({
  kind: Schema.String.annotations({ description: "a job kind this deployment runs" }),
  args: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) }).annotations({
    description: "the kind's arguments (default `{}`)"
  }),
  runAt: Schema.optional(Timestamp).annotations({ description: "when to run; now when absent or past. Not together with delaySeconds" }),
  delaySeconds: Schema.optional(Schema.Number.pipe(Schema.nonNegative(), Schema.lessThanOrEqualTo(366 * 86_400))).annotations({
    description: "run this many seconds from now"
  }),
  priority: Schema.optional(
    Schema.Int.pipe(Schema.between(PriorityRange.min, PriorityRange.max, { message: () => `must be an integer from ${PriorityRange.min} to ${PriorityRange.max}` }))
  ).annotations({ description: "0 is the most urgent; the kind's default when absent" }),
  maxAttempts: Schema.optional(
    Schema.Int.pipe(Schema.between(1, Limits.maxAttempts, { message: () => `must be an integer from 1 to ${Limits.maxAttempts}` }))
  ).annotations({ description: "the kind's default when absent" }),
  uniqueKey: Schema.optional(Schema.String).annotations({
    description: `1 to ${Limits.keyLength} characters; while a job with this key exists, another enqueue with it returns that job`
  })
}).annotations({ identifier: "EnqueueJob" })

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["jobs"]

export const listQueues = route({
  method: "get",
  path: "/admin/api/queues",
  operationId: "listQueues",
  summary: "Each queue's jobs by state, its oldest wait and its capacity.",
  tags,
  security: "admin",
  responses: { 200: { description: "The queues, by name", schema: QueueList } },
  problems: [...admin]
})

export const listJobs = route({
  method: "get",
  path: "/admin/api/jobs",
  operationId: "listJobs",
  summary: "Jobs, newest first, filtered by state, queue and kind.",
  tags,
  security: "admin",
  query: JobsQuery,
  responses: { 200: { description: "A page of jobs", schema: JobPage } },
  problems: ["validation", ...admin]
})

export const enqueueJob = route({
  method: "post",
  path: "/admin/api/jobs",
  operationId: "enqueueJob",
  summary: "Enqueue a job of a known kind.",
  tags,
  security: "admin",
  body: { schema: EnqueueBody, excess: "error" },
  responses: {
    201: { description: "Enqueued", schema: EnqueuedJobView },
    200: { description: "A job with this uniqueKey already exists: that job (`duplicate: true`)", schema: EnqueuedJobView }
  },
  problems: ["validation", "malformed-body", "payload-too-large", ...admin]
})

export const getJob = route({
  method: "get",
  path: "/admin/api/jobs/{id}",
  operationId: "getJob",
  summary: "One job with its attempt errors.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The job", schema: JobView } },
  problems: ["not-found", ...admin]
})

export const retryJob = route({
  method: "post",
  path: "/admin/api/jobs/{id}/retry",
  operationId: "retryJob",
  summary: "Discarded, cancelled or retryable -> available now (a discarded job gets one more attempt).",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The job", schema: JobView } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const cancelJob = route({
  method: "post",
  path: "/admin/api/jobs/{id}/cancel",
  operationId: "cancelJob",
  summary: "Cancel a job that has not finished.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The job", schema: JobView } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const listProcesses = route({
  method: "get",
  path: "/admin/api/processes",
  operationId: "listProcesses",
  summary: "The live processes, their roles and their load per queue.",
  tags,
  security: "admin",
  responses: { 200: { description: "The processes", schema: ProcessList } },
  problems: [...admin]
})

export const jobRoutesContract = [listQueues, listJobs, enqueueJob, getJob, retryJob, cancelJob, listProcesses]
