/**
 * The job kinds of the callback domain, as data (handlers: src/callbacks/).
 *
 * - `verification.send` texts a fresh code to a request awaiting verification.
 *   Texts (this and `callback.sms_fallback`) name the number they are sent
 *   from and are enqueued under its rate key, so each sender texts at its
 *   pace (src/callbacks/Texts.ts).
 * - `callback.dial` places the next call of a request, admitted under its
 *   department's concurrency key (`business:<id>`, or `business:<id>:<key>`
 *   for a department other than the business's own; limit
 *   maxConcurrentCalls). It
 *   hands its slot to a lease owned by the call attempt and ends: the lease
 *   holds the slot until the call ends, so a department's slots in use are its
 *   calls in progress, and no runner waits through a call.
 * - `callback.watch` looks after one call in progress: when its status reports
 *   go quiet it asks Twilio, and it gives back the slot of a call that ended
 *   by any path.
 * - `callback.escalate` moves a request on to the next number of its plan.
 * - `callback.sms_fallback` texts the visitor once: a notice while calls cannot
 *   be placed, or the final word when every number failed.
 * - `maintenance.cleanup` and `report.daily` run from cron.
 * - `webhooks.deliver` sends one event to one webhook endpoint (inserted by the
 *   outbox trigger of migrations/0009_webhooks.sql, with these values), one at a
 *   time per endpoint and request (`webhook:<endpoint>:<request>`, limit 1).
 */
import * as Schema from "effect/Schema"
import { defineJob, Priority } from "../jobs/JobDefinition.ts"
import { backoff } from "../jobs/RetryPolicy.ts"
import { E164 } from "./Business.ts"

const CallbackId = Schema.UUID

/** The number a text is sent from (domain/callbacks/SmsSenders.ts); absent in jobs enqueued before there was a pool of senders. */
const SentFrom = Schema.optional(E164)

export const CallbackQueues = { calls: "calls", sms: "sms", maintenance: "default", webhooks: "webhooks" } as const

/** The concurrency key of a business's calls: its dial jobs are admitted under it, its calls in progress hold its slots. */
export const businessSlot = (businessId: string): string => `business:${businessId}`

export const VerificationSend = defineJob({
  kind: "verification.send",
  queue: CallbackQueues.sms,
  // `issuedAt`: the code's issue this text is for (a resend's issue gets its own job); absent in jobs enqueued before it was named
  args: Schema.Struct({ callbackId: CallbackId, from: SentFrom, issuedAt: Schema.optional(Schema.Date) }),
  maxAttempts: 10,
  timeout: "1 minute",
  priority: Priority.high
})

export const CallbackDial = defineJob({
  kind: "callback.dial",
  queue: CallbackQueues.calls,
  // the request's generation when the dial was enqueued: a dial left over from before an administrator's retry does nothing
  args: Schema.Struct({ callbackId: CallbackId, generation: Schema.optional(Schema.Int.pipe(Schema.nonNegative())) }),
  // an attempt of this job is not a call attempt: circuit and rate-limit waits snooze without spending either
  maxAttempts: 50,
  // setting up and placing one call (Twilio's create), not the call itself
  timeout: "5 minutes"
})

export const CallbackWatch = defineJob({
  kind: "callback.watch",
  queue: CallbackQueues.calls,
  args: Schema.Struct({ attemptId: Schema.UUID }),
  // every wait and every failure snoozes (no attempt spent): only crashes while it runs spend attempts
  maxAttempts: 100,
  // one question to Twilio (a listing of calls, at worst)
  timeout: "5 minutes"
})

export const CallbackEscalate = defineJob({
  kind: "callback.escalate",
  queue: CallbackQueues.calls,
  args: Schema.Struct({ callbackId: CallbackId, level: Schema.Int.pipe(Schema.between(1, 100)) }),
  maxAttempts: 25,
  timeout: "30 seconds"
})

export const SmsKind = Schema.Literal("circuit_notice", "fallback")
export type SmsKind = typeof SmsKind.Type

export const CallbackSmsFallback = defineJob({
  kind: "callback.sms_fallback",
  queue: CallbackQueues.sms,
  args: Schema.Struct({ callbackId: CallbackId, kind: SmsKind, generation: Schema.Int.pipe(Schema.nonNegative()), from: SentFrom }),
  maxAttempts: 25,
  timeout: "1 minute"
})

export const MaintenanceCleanup = defineJob({
  kind: "maintenance.cleanup",
  queue: CallbackQueues.maintenance,
  args: Schema.Struct({}),
  maxAttempts: 5,
  timeout: "5 minutes",
  priority: Priority.low
})

export const ReportDaily = defineJob({
  kind: "report.daily",
  queue: CallbackQueues.maintenance,
  // the UTC day to summarise (YYYY-MM-DD); yesterday when absent
  args: Schema.Struct({ day: Schema.optional(Schema.String.pipe(Schema.pattern(/^\d{4}-\d{2}-\d{2}$/))) }),
  maxAttempts: 5,
  timeout: "5 minutes",
  priority: Priority.low
})

export const WebhookDeliver = defineJob({
  kind: "webhooks.deliver",
  queue: CallbackQueues.webhooks,
  // the outbox row (webhook_outbox.id) and its request (for the concurrency key and operational events)
  args: Schema.Struct({ outboxId: Schema.String.pipe(Schema.pattern(/^\d{1,19}$/)), callbackId: CallbackId }),
  // a safety net: the delivery is given up when its retry window (WEBHOOK_RETRY_WINDOW) is over
  maxAttempts: 500,
  // 5 s, 10 s, 20 s, ... up to 2 hours between tries, with full jitter
  backoff: backoff("5 seconds", "2 hours"),
  timeout: "1 minute"
})
