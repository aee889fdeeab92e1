/**
 * Every metric Switchboard exports, on one prom-client registry, with the
 * `switchboard_` prefix. Counters and histograms are updated where things
 * happen; gauges whose truth lives elsewhere (queue depth in Postgres, actor
 * heartbeats in the health registry) are refreshed by sources registered with
 * `addSource`, which run once per scrape. Default process metrics (CPU,
 * memory, event loop lag, GC) keep their standard unprefixed names so stock
 * Node.js dashboards work; the three `nodejs_active_*_total` gauges are left
 * out because their names break Prometheus naming rules (promtool rejects them).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as client from "prom-client"
import { BUILD } from "./Build.ts"

export const PREFIX = "switchboard_"

/** How an attempt (or an operator) finished a job, as the `outcome` label says it. */
export type FinishOutcome = "completed" | "retried" | "discarded" | "snoozed" | "cancelled"

const make = () => {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })
  // gauges named like counters: `promtool check metrics` rejects them, so they are not exported
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name)
  const counter = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>) =>
    new client.Counter<L>({ name: PREFIX + name, help, labelNames, registers: [registry] })
  const gauge = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>) =>
    new client.Gauge<L>({ name: PREFIX + name, help, labelNames, registers: [registry] })
  const histogram = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>, buckets: Array<number>) =>
    new client.Histogram<L>({ name: PREFIX + name, help, labelNames, buckets, registers: [registry] })

  const buildInfo = gauge("build_info", "Always 1: what this process runs (package version, source revision, runtime and its version).", ["version", "revision", "runtime"])
  buildInfo.set({ version: BUILD.version, revision: BUILD.revision, runtime: BUILD.runtime }, 1)

  const metrics = {
    registry,
    httpRequests: counter("http_requests_total", "HTTP requests answered, by route pattern and status.", ["method", "route", "status"]),
    httpDuration: histogram(
      "http_request_duration_seconds",
      "Time to answer an HTTP request.",
      ["method", "route", "status"],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    ),
    jobsEnqueued: counter(
      "jobs_enqueued_total",
      "Jobs inserted by this process, counted at the insert (a rolled-back transaction still counts; unique-key duplicates do not).",
      ["queue", "kind"]
    ),
    jobsFinished: counter("jobs_finished_total", "Job attempts recorded, by outcome; cancelled counts operator cancels.", ["queue", "kind", "outcome"]),
    jobDuration: histogram(
      "job_duration_seconds",
      "Time a job attempt ran in its handler.",
      ["queue", "kind"],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300]
    ),
    jobSnoozes: counter(
      "job_snoozes_total",
      "Job attempts that snoozed (waited without spending an attempt), by why: rate_limit, budget, concurrency, circuit, schedule, other.",
      ["queue", "reason"]
    ),
    claims: counter(
      "claims_total",
      "Claim statements a worker pool ran, by result: full (as many jobs as it had room for), partial, or empty. Many empty or partial claims while jobs are available mean pools contend for the same rows.",
      ["queue", "result"]
    ),
    jobsWaitingForSlot: gauge(
      "jobs_waiting_for_slot",
      "Jobs set aside because their concurrency key was at its limit when claimed, waiting for a slot; read at scrape time, aggregate with max.",
      ["queue"]
    ),
    jobSlotLeases: gauge(
      "job_slot_leases",
      "Concurrency slots held by leases past the job that took them (calls in progress hold their business's slot this way), read at scrape time; every replica reports it, aggregate with max.",
      []
    ),
    jobQueueDepth: gauge(
      "job_queue_depth",
      "Jobs per queue and state in the database (completed and cancelled not counted), read at scrape time; every replica reports it, aggregate with max.",
      ["queue", "state"]
    ),
    jobOldestAvailableAge: gauge("job_oldest_available_age_seconds", "How long the oldest due job of a queue has waited to be claimed.", ["queue"]),
    queuePaused: gauge(
      "queue_paused",
      "1 while an operator has paused the queue (no process claims its jobs), else 0; read at scrape time, every replica reports it, aggregate with max.",
      ["queue"]
    ),
    sseStreams: gauge("sse_streams", "Live event streams (SSE) this process is serving, by kind (visitor, operator).", ["kind"]),
    sseEventsSent: counter("sse_events_sent_total", "Events written to live event streams, by kind.", ["kind"]),
    sseRefused: counter("sse_refused_total", "Live event streams refused, by kind and reason (full, unauthorized, forbidden, not_found).", ["kind", "reason"]),
    jobsRescued: counter("jobs_rescued_total", "Jobs taken back from processes presumed dead.", []),
    twilioDuration: histogram(
      "twilio_request_duration_seconds",
      "Time a request to Twilio took, from sending to its answer (or its failure or timeout); circuit-open refusals are not timed.",
      ["op"],
      [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15]
    ),
    configurationError: gauge(
      "configuration_error",
      "1 while Twilio refuses this process's requests for how the deployment is configured (reason: twilio_auth, twilio_account_suspended, twilio_from_number, twilio_callback_url): dialing and texting stop for every business until a probe succeeds; 0 otherwise.",
      ["reason"]
    ),
    twilioRequests: counter("twilio_requests_total", "Requests to Twilio by operation and outcome (ok, permanent, retryable, ambiguous, circuit_open).", ["op", "outcome"]),
    twilioWebhookRetries: counter(
      "twilio_webhook_retries_total",
      "Twilio webhook retries answered without effect (their I-Twilio-Idempotency-Token was applied already), by route.",
      ["route"]
    ),
    circuitState: gauge("circuit_state", "Twilio circuit per channel: 0 closed, 1 half-open, 2 open.", ["channel"]),
    callbacks: counter("callbacks_total", "Callback requests entering each status (counted at the update).", ["status"]),
    callbacksInState: gauge("callbacks_in_state", "Callback requests per status in the database, read at scrape time; aggregate with max.", ["status"]),
    dialAttempts: counter(
      "dial_attempts_total",
      "Calls placed, by how they ended (answered, busy, no-answer, failed, canceled) or not_placed when Twilio refused them.",
      ["outcome"]
    ),
    verifyToFirstDial: histogram(
      "verify_to_first_dial_seconds",
      "From a request's verification to the first call's create sent to Twilio (counted once Twilio placed it); requests that waited for their business to open are left out.",
      [],
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    ),
    escalations: counter("escalations_total", "Requests moved on to a backup number, by the level (1 = first backup) they moved to.", ["level"]),
    verificationChecks: counter("verification_checks_total", "Verification codes entered, by result (verified, wrong, expired, exhausted, used).", ["result"]),
    smsSent: counter("sms_sent_total", "Text messages accepted by Twilio, by kind (verification, circuit_notice, fallback).", ["kind"]),
    budgetExhausted: counter(
      "budget_exhausted_total",
      "Texts and calls held back by a budget, by scope (business, account) and channel (sms, call): requests refused with 429, and job runs deferred.",
      ["scope", "channel"]
    ),
    botChecks: counter(
      "bot_checks_total",
      "Bot-check tokens judged at create, by provider (turnstile, hcaptcha) and outcome (passed, failed, missing, unavailable).",
      ["provider", "outcome"]
    ),
    phoneLockouts: counter("phone_lockouts_total", "Phones locked after their verification failed on too many requests (VERIFY_LOCKOUT).", []),
    webhookDeliveries: counter(
      "webhook_deliveries_total",
      "Outbound webhook delivery attempts by outcome (delivered, failed, refused), and deliveries given up (dead).",
      ["outcome"]
    ),
    webhookDeliveryDuration: histogram(
      "webhook_delivery_duration_seconds",
      "Time an outbound webhook attempt took, from connecting to the response's status (or the failure).",
      ["outcome"],
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    ),
    webhookEndpointsDisabled: counter("webhook_endpoints_disabled_total", "Webhook endpoints disabled after a run of failed deliveries.", []),
    webhookOutboxPending: gauge("webhook_outbox_pending", "Outbound webhook deliveries not yet delivered or dead, read at scrape time; aggregate with max.", []),
    dbPoolConnections: gauge(
      "db_pool_connections",
      "This process's shared database pool: connections checked out (in_use), idle, and requests waiting for one (waiting); max is the pool's size.",
      ["state"]
    ),
    databaseUp: gauge("database_up", "1 while this process's database probe (the readiness check's) answers, 0 while it fails; read at scrape time.", []),
    ready: gauge("ready", "1 while this process is ready (what /readyz answers), 0 while it is not (draining, database down, migrations missing); read at scrape time.", []),
    queueRunners: gauge(
      "queue_runners",
      "Runners for the queue across the live processes (heartbeat within PROCESS_STALE_AFTER), from the database at scrape time; every replica reports it, aggregate with max.",
      ["queue"]
    ),
    processHeartbeatAge: gauge(
      "process_heartbeat_age_seconds",
      "The oldest heartbeat among the registered processes, in seconds, from the database at scrape time (a process silent past PROCESS_STALE_AFTER is presumed dead and pruned); aggregate with max.",
      []
    ),
    cronOverdue: gauge(
      "cron_overdue_seconds",
      "Seconds since an enabled schedule's latest slot when no job was enqueued for that slot (0 when it was, or while the schedule is disabled); from the database at scrape time, aggregate with max.",
      ["cron"]
    ),
    actorRestarts: counter("actor_restarts_total", "Times a supervised actor died and was started again.", ["actor"]),
    actorHeartbeatAge: gauge("actor_heartbeat_age_seconds", "Seconds a busy actor has gone without a heartbeat (0 while it waits as declared).", ["actor"])
  }
  return metrics
}

export type MetricSet = ReturnType<typeof make>

/**
 * Increments `counter` once per group of `items` with equal labels, by the group's size:
 * a batch of a thousand outcomes costs a handful of label lookups, not a thousand.
 */
export const incGrouped = <L extends string, A>(counter: client.Counter<L>, items: Iterable<A>, labelsOf: (item: A) => Record<L, string> | undefined) => {
  const groups = new Map<string, { labels: Record<L, string>; n: number }>()
  for (const item of items) {
    const labels = labelsOf(item)
    if (labels === undefined) continue
    const key = Object.values(labels).join("\u0000")
    const group = groups.get(key)
    if (group === undefined) groups.set(key, { labels, n: 1 })
    else group.n++
  }
  for (const { labels, n } of groups.values()) counter.inc(labels as client.LabelValues<L>, n)
}

/** A refresh run before each scrape; its failure is logged and the scrape goes on. */
type Source = Effect.Effect<void, unknown>

const SOURCE_TIMEOUT = Duration.seconds(5)

export class Metrics extends Effect.Service<Metrics>()("switchboard/infra/Metrics", {
  sync: () => {
    const metrics = make()
    const sources = new Map<string, Source>()
    /** Registers a refresh for the life of the scope. */
    const addSource = (name: string, refresh: Source): Effect.Effect<void, never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.sync(() => sources.set(name, refresh)),
        () => Effect.sync(() => sources.delete(name))
      )
    /** The exposition text: sources refreshed concurrently, then every metric rendered. */
    const scrape: Effect.Effect<string> = Effect.suspend(() => Effect.forEach(
      [...sources],
      ([name, refresh]) =>
        refresh.pipe(
          Effect.timeoutFail({ duration: SOURCE_TIMEOUT, onTimeout: () => new Error(`timed out after ${Duration.format(SOURCE_TIMEOUT)}`) }),
          Effect.catchAllCause((cause) => Effect.logWarning(`metrics source ${name} failed; its gauges keep their last values`, cause))
        ),
      { concurrency: "unbounded", discard: true }
    )).pipe(Effect.zipRight(Effect.promise(() => metrics.registry.metrics())))
    return { ...metrics, addSource, scrape, contentType: metrics.registry.contentType }
  }
}) {}
