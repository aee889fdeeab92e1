/**
 * The platform's cron jobs.
 *
 * - `maintenance.cleanup`: requests whose code expired unverified become
 *   `expired`; finished requests older than CALLBACK_RETENTION are deleted
 *   (with their attempts, code and messages); spent rate-limit events and
 *   idempotency keys past their 24 hours are dropped.
 * - `report.daily`: a summary of one UTC day (yesterday by default) stored in
 *   `daily_reports`, replaced if the day is summarised again.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { MaintenanceCleanup, ReportDaily } from "../../domain/callbacks/Jobs.ts"
import { type CronDefinition, defineCron } from "../../domain/jobs/CronDefinition.ts"
import { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import { IDEMPOTENCY_TTL_HOURS } from "../../infra/callbacks/Idempotency.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { asJobFailure } from "./JobFailures.ts"

export const cleanup = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const settings = yield* CallbackConfig
  const metrics = yield* Metrics
  const lifetime = Duration.toSeconds(settings.verification.codeLifetime)
  const expired = yield* sql<{ id: string }>`
    UPDATE callback_requests r SET status = 'expired', updated_at = now(), finished_at = now()
      FROM verifications v
     WHERE v.callback_id = r.id AND r.status = 'pending_verification'
       AND v.issued_at < now() - make_interval(secs => ${lifetime})
    RETURNING r.id`
  if (expired.length > 0) metrics.callbacks.inc({ status: "expired" }, expired.length)
  const purged = yield* sql`
    DELETE FROM callback_requests
     WHERE status IN ('completed', 'failed', 'cancelled', 'expired')
       AND finished_at < now() - make_interval(secs => ${Duration.toSeconds(settings.retention)})
    RETURNING id`
  // the longest window any limit looks back over; older events decide nothing
  const windows = [settings.createPerPhone, settings.createPerIp, settings.verifyPerIp, settings.dialPerDestination].map((l) => Duration.toSeconds(l.window))
  yield* sql`DELETE FROM rate_events WHERE at < now() - make_interval(secs => ${Math.max(...windows)})`
  yield* sql`DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`
  yield* Effect.logInfo(`cleanup: ${expired.length} requests expired, ${purged.length} past retention deleted`)
})

const yesterday = (): string => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)

export const reportDay = (day: string = yesterday()) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [summary] = yield* sql<{ summary: unknown }>`
      WITH bounds AS (SELECT ${day}::date::timestamp AT TIME ZONE 'UTC' AS start_at)
      SELECT json_build_object(
        'day', ${day}::text,
        'created', (SELECT count(*) FROM callback_requests, bounds WHERE created_at >= start_at AND created_at < start_at + interval '1 day'),
        'completed', (SELECT count(*) FROM callback_requests, bounds WHERE status = 'completed' AND finished_at >= start_at AND finished_at < start_at + interval '1 day'),
        'failed', (SELECT count(*) FROM callback_requests, bounds WHERE status = 'failed' AND finished_at >= start_at AND finished_at < start_at + interval '1 day'),
        'expired', (SELECT count(*) FROM callback_requests, bounds WHERE status = 'expired' AND finished_at >= start_at AND finished_at < start_at + interval '1 day'),
        'callAttempts', (SELECT count(*) FROM call_attempts, bounds WHERE started_at >= start_at AND started_at < start_at + interval '1 day'),
        'answeredAttempts', (SELECT count(*) FROM call_attempts, bounds WHERE answered AND started_at >= start_at AND started_at < start_at + interval '1 day'),
        'textsSent', (SELECT count(*) FROM sms_messages, bounds WHERE sid IS NOT NULL AND created_at >= start_at AND created_at < start_at + interval '1 day')
      ) AS summary`
    yield* sql`
      INSERT INTO daily_reports (day, summary) VALUES (${day}::date, ${JSON.stringify(summary?.summary ?? {})}::jsonb)
      ON CONFLICT (day) DO UPDATE SET summary = EXCLUDED.summary, created_at = now()`
    return summary?.summary
  })

export const CleanupHandler = handle(MaintenanceCleanup, () => asJobFailure(cleanup))
export const ReportHandler = handle(ReportDaily, (args) => asJobFailure(Effect.asVoid(reportDay(args.day))))

export const callbackCrons: ReadonlyArray<CronDefinition> = [
  defineCron({ name: "maintenance.cleanup", schedule: "* * * * *", job: MaintenanceCleanup, args: {} }) as CronDefinition,
  defineCron({ name: "report.daily", schedule: "15 0 * * *", job: ReportDaily, args: {} }) as CronDefinition
]
