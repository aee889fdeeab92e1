/**
 * The platform's cron jobs.
 *
 * - `maintenance.cleanup`: requests whose code expired unverified become
 *   `expired`; finished requests older than CALLBACK_RETENTION are deleted
 *   (with their attempts, code, messages and history), and operational events
 *   after the same time; spent rate-limit events,
 *   idempotency keys and Twilio's webhook tokens past their 24 hours are dropped;
 *   delivered and dead outbound webhooks and their attempt log go after WEBHOOK_RETENTION;
 *   a business slot still held by a call that ended (its watcher was lost) is given back.
 * - `report.daily`: a summary of one UTC day (by default yesterday, by the
 *   Clock) stored in `daily_reports`, replaced if the day is summarised again.
 *
 * The statements are infra's (infra/callbacks/CallbackRetention.ts, DailyReports.ts).
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { MaintenanceCleanup, ReportDaily } from "../../domain/callbacks/Jobs.ts"
import { type CronDefinition, defineCron } from "../../domain/jobs/CronDefinition.ts"
import { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import { expireUnverified, purgeFinished, purgeIdempotencyKeys, purgeOperationalEvents, purgeRateEvents, purgeWebhookDeliveries, releaseEndedCallSlots } from "../../infra/callbacks/CallbackRetention.ts"
import { type Day, storeReport, summariseDay } from "../../infra/callbacks/DailyReports.ts"
import { IDEMPOTENCY_TTL_HOURS } from "../../infra/callbacks/Idempotency.ts"
import { WEBHOOK_TOKEN_TTL_HOURS } from "../../infra/callbacks/WebhookDeliveries.ts"
import { WebhookConfig } from "../../infra/callbacks/WebhookConfig.ts"
import { WebhookOutbox } from "../../infra/callbacks/WebhookOutbox.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { asJobFailure } from "./JobFailures.ts"

export const cleanup = Effect.gen(function* () {
  const settings = yield* CallbackConfig
  const metrics = yield* Metrics
  const expired = yield* expireUnverified(settings.verification.codeLifetime)
  if (expired.length > 0) metrics.callbacks.inc({ status: "expired" }, expired.length)
  const purged = yield* purgeFinished(settings.retention)
  yield* purgeOperationalEvents(settings.retention)
  // the longest window any limit looks back over; older events decide nothing
  const limits = [settings.createPerPhone, settings.createPerIp, settings.verifyPerIp, settings.dialPerDestination]
  yield* purgeRateEvents(limits.map((l) => l.window).reduce(Duration.max))
  yield* purgeIdempotencyKeys(Duration.hours(IDEMPOTENCY_TTL_HOURS))
  yield* purgeWebhookDeliveries(Duration.hours(WEBHOOK_TOKEN_TTL_HOURS))
  yield* (yield* WebhookOutbox).purge((yield* WebhookConfig).retention)
  const released = yield* releaseEndedCallSlots
  if (released > 0) yield* Effect.logWarning(`cleanup: ${released} business slots were still held by calls that had ended; given back`)
  yield* Effect.logInfo(`cleanup: ${expired.length} requests expired, ${purged} past retention deleted`)
})

/** The UTC day before the Clock's current one. */
export const yesterday: Effect.Effect<Day> = Effect.map(DateTime.now, (now) => DateTime.formatIsoDateUtc(DateTime.subtract(now, { days: 1 })))

/** Summarises `day` (yesterday when absent) and stores the report; the summary. */
export const reportDay = (day?: Day) =>
  Effect.gen(function* () {
    const summary = yield* summariseDay(day ?? (yield* yesterday))
    yield* storeReport(summary)
    return summary
  })

export const CleanupHandler = handle(MaintenanceCleanup, () => asJobFailure(cleanup))
export const ReportHandler = handle(ReportDaily, (args) => asJobFailure(Effect.asVoid(reportDay(args.day))))

export const callbackCrons: ReadonlyArray<CronDefinition> = [
  defineCron({ name: "maintenance.cleanup", schedule: "* * * * *", job: MaintenanceCleanup, args: {} }) as CronDefinition,
  defineCron({ name: "report.daily", schedule: "15 0 * * *", job: ReportDaily, args: {} }) as CronDefinition
]
