/**
 * The admin API of the job engine (API.md "Admin"): queues (and their pause),
 * jobs (list, show, enqueue, retry, cancel), cron schedules (enable, disable,
 * run now) and processes (and their drain), behind the admin token. The job view
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
  concurrency: Schema.Int.annotations({ description: "jobs of this queue the live processes run at once, summed" }),
  paused: Schema.Boolean.annotations({ description: "an operator paused the queue: no process claims its jobs; running ones finish" }),
  pausedAt: Schema.optional(Timestamp).annotations({ description: "when it was paused (only while paused)" }),
  pausedBy: Schema.optional(Schema.String).annotations({ description: "who paused it (only while paused)" })
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
  queues: Schema.Record({ key: Schema.String, value: Schema.Struct({ concurrency: Schema.Int, running: Schema.Int }) }),
  drainRequestedAt: Schema.NullOr(Timestamp).annotations({
    description: "when an operator asked it to drain: it shuts down gracefully, as on SIGTERM, at its next heartbeat"
  }),
  drainRequestedBy: Schema.NullOr(Schema.String).annotations({ description: "who asked it to drain" }),
  version: Schema.NullOr(Schema.String).annotations({ description: "the package version it runs (null: registered by a version that did not say)" }),
  revision: Schema.NullOr(Schema.String).annotations({ description: "the source revision of its image (SWITCHBOARD_REVISION), or unknown" }),
  runtime: Schema.NullOr(Schema.String).annotations({ description: "its runtime and version, such as node/22.11.0" })
}).annotations({ identifier: "Process" })

export const ProcessList = Schema.Array(ProcessView)

/** The newest job of a schedule: one of its slots or a manual run. */
export const CronRunView = Schema.Struct({
  jobId: JobId,
  state: JobStateSchema,
  runAt: Timestamp,
  finishedAt: Schema.NullOr(Timestamp)
}).annotations({ identifier: "CronRun" })

/** A cron schedule of this deployment and its operator controls. */
export const CronView = Schema.Struct({
  name: Schema.String,
  schedule: Schema.String.annotations({ description: "the crontab expression (five fields, or six with seconds first)" }),
  kind: Schema.String.annotations({ description: "the job kind each run enqueues" }),
  queue: Schema.String,
  enabled: Schema.Boolean.annotations({ description: "false: no slot is enqueued (nor caught up later) until it is enabled again" }),
  updatedAt: Schema.optional(Timestamp).annotations({ description: "when an operator last enabled or disabled it (absent: never)" }),
  updatedBy: Schema.optional(Schema.String).annotations({ description: "who last enabled or disabled it" }),
  nextRunAt: Timestamp.annotations({ description: "the schedule's next slot; it runs then only if enabled" }),
  lastRun: Schema.optional(CronRunView).annotations({ description: "its newest job still kept (absent: none)" })
}).annotations({ identifier: "Cron" })

export const CronList = Schema.Array(CronView)

/** `{queue}`: a queue some job kind of this deployment runs on. */
export const QueueParams = Schema.Struct({ queue: Schema.String.annotations({ description: "the queue's name" }) })

/** `{name}`: a cron schedule of this deployment. */
export const CronParams = Schema.Struct({ name: Schema.String.annotations({ description: "the schedule's name" }) })

/** A queue or kind name in a filter: printable ASCII without spaces. */
const NameFilter = (what: string) =>
  Schema.String.pipe(Schema.pattern(/^[\x21-\x7e]{1,200}$/, { message: () => "must be 1 to 200 visible ASCII characters" })).annotations({
    description: `only jobs of this ${what}`
  })

export const JobsQuery = Schema.Struct({
  state: Schema.optional(JobStateSchema.annotations({ message: () => `must be one of ${JobStates.join(", ")}`, description: "only jobs in this state" })),
  queue: Schema.optional(NameFilter("queue")),
  kind: Schema.optional(NameFilter("kind")),
  q: Schema.optional(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200, { message: () => "must be 1 to 200 characters" })).annotations({
      description: "only jobs whose arguments (as JSON) contain this text, case-insensitively"
    })
  ),
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

export const runJobNow = route({
  method: "post",
  path: "/admin/api/jobs/{id}/run-now",
  operationId: "runJobNow",
  summary: "Scheduled or retryable -> available now, as if its time had come (it keeps its attempts).",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The job", schema: JobView } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const deleteJob = route({
  method: "delete",
  path: "/admin/api/jobs/{id}",
  operationId: "deleteJob",
  summary: "Delete a finished job (completed, discarded or cancelled) before retention would.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 204: { description: "Deleted" } },
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

export const pauseQueue = route({
  method: "post",
  path: "/admin/api/queues/{queue}/pause",
  operationId: "pauseQueue",
  summary: "Pause a queue in every process: no new job of it is claimed or started; running jobs finish.",
  tags,
  security: "admin",
  params: QueueParams,
  responses: { 200: { description: "The queue, paused", schema: QueueView } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const resumeQueue = route({
  method: "post",
  path: "/admin/api/queues/{queue}/resume",
  operationId: "resumeQueue",
  summary: "Resume a paused queue: every process claims its jobs again at once.",
  tags,
  security: "admin",
  params: QueueParams,
  responses: { 200: { description: "The queue, not paused", schema: QueueView } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const listCrons = route({
  method: "get",
  path: "/admin/api/crons",
  operationId: "listCrons",
  summary: "The cron schedules: whether each is enabled, its next slot and its last run.",
  tags,
  security: "admin",
  responses: { 200: { description: "The schedules, by name", schema: CronList } },
  problems: [...admin]
})

export const runCron = route({
  method: "post",
  path: "/admin/api/crons/{name}/run",
  operationId: "runCron",
  summary: "Enqueue a schedule's job to run now, outside its slots (enabled or not).",
  tags,
  security: "admin",
  params: CronParams,
  responses: { 201: { description: "The job enqueued", schema: JobView } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const enableCron = route({
  method: "post",
  path: "/admin/api/crons/{name}/enable",
  operationId: "enableCron",
  summary: "Enable a schedule: its next slot runs; slots skipped while disabled are not caught up.",
  tags,
  security: "admin",
  params: CronParams,
  responses: { 200: { description: "The schedule", schema: CronView } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const disableCron = route({
  method: "post",
  path: "/admin/api/crons/{name}/disable",
  operationId: "disableCron",
  summary: "Disable a schedule in every process: no slot is enqueued until it is enabled again.",
  tags,
  security: "admin",
  params: CronParams,
  responses: { 200: { description: "The schedule", schema: CronView } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const drainProcess = route({
  method: "post",
  path: "/admin/api/processes/{id}/drain",
  operationId: "drainProcess",
  summary: "Ask a process to shut down gracefully (as on SIGTERM); it does at its next heartbeat.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 202: { description: "Asked: the process, with drainRequestedAt set", schema: ProcessView } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const jobRoutesContract = [
  listQueues,
  pauseQueue,
  resumeQueue,
  listJobs,
  enqueueJob,
  getJob,
  retryJob,
  cancelJob,
  runJobNow,
  deleteJob,
  listCrons,
  runCron,
  enableCron,
  disableCron,
  listProcesses,
  drainProcess
]
