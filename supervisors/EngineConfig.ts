/** The job engine's settings: read once from the environment when the engine starts, validated, then shared as a service. */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { parseQueues } from "../domain/jobs/QueueConfig.ts"
import { duration, integer } from "../infra/config/Env.ts"

/** One pool per queue the application uses: dial jobs hold a `calls` runner for the length of a call. */
export const DEFAULT_QUEUES = "default:10,calls:50,sms:10,webhooks:10"

const Queues = Config.string("QUEUES").pipe(
  Config.withDefault(DEFAULT_QUEUES),
  Config.withDescription("worker pools: queue:concurrency[:prefetch], comma-separated"),
  Config.mapOrFail((text) => Either.mapLeft(parseQueues(text), (message) => ConfigError.InvalidData(["QUEUES"], message)))
)

/** The default of SHUTDOWN_GRACE; deploy/ manifests size their termination grace period from it. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 20

/**
 * The longest a shutdown can take after SHUTDOWN_GRACE ends, rounded up: writing the
 * outcomes still pending (10 s at most), closing HTTP (5 s), flushing spans (5 s),
 * closing the LISTEN connection (2 s). Orchestrators must wait at least this much more.
 */
export const SHUTDOWN_AFTER_GRACE_SECONDS = 25

const fromEnvironment = Config.all({
  queues: Queues,
  heartbeatInterval: duration("HEARTBEAT_INTERVAL", "2 seconds", "how often a process refreshes its row"),
  staleAfter: duration("PROCESS_STALE_AFTER", "10 seconds", "a process silent this long is presumed dead and its jobs rescued"),
  pollInterval: duration("JOB_POLL_INTERVAL", "1 second", "safety-net poll of each queue when no notification arrives"),
  slotRecheck: duration("JOB_SLOT_RECHECK", "30 seconds", "how long a job waiting for a concurrency slot sleeps before re-checking"),
  completionBatch: integer("JOB_COMPLETION_BATCH", 1000, 1, 10_000, "outcomes written per statement"),
  retention: duration("JOB_RETENTION", "7 days", "completed jobs are deleted after this"),
  deadRetention: duration("JOB_DISCARDED_RETENTION", "30 days", "discarded and cancelled jobs are deleted after this"),
  pruneInterval: duration("JOB_PRUNE_INTERVAL", "5 minutes", "how often retention runs"),
  cronCatchUp: duration("CRON_CATCHUP_WINDOW", "1 hour", "a cron slot missed while everything was down runs on start if it is this recent"),
  shutdownGrace: duration("SHUTDOWN_GRACE", `${DEFAULT_SHUTDOWN_GRACE_SECONDS} seconds`, "how long running jobs may finish after a shutdown signal")
}).pipe(
  Config.validate({
    message: "PROCESS_STALE_AFTER must be at least twice HEARTBEAT_INTERVAL",
    validation: (c) => Duration.toMillis(c.staleAfter) >= 2 * Duration.toMillis(c.heartbeatInterval)
  })
)

export type EngineSettings = Config.Config.Success<typeof fromEnvironment>

export class EngineConfig extends Context.Tag("switchboard/supervisors/EngineConfig")<EngineConfig, EngineSettings>() {}

export const EngineConfigLive = Layer.effect(EngineConfig, fromEnvironment)
