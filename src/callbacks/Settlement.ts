/**
 * What happens when a call's status changes: the attempt takes the report if
 * it moves the call forward (domain/callbacks/CallProgress.ts), and when that
 * decides the request's fate, the request moves on and its next job is
 * enqueued, all in one transaction under row locks. A duplicate or late report
 * changes nothing and enqueues nothing, so webhooks and reconciliation can
 * both report the same call safely, in any order. A webhook delivery Twilio
 * retries is recognised by its idempotency token, recorded in the same
 * transaction as the report's effect, and answered without touching anything.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CallbackRequest } from "../../domain/callbacks/Business.ts"
import { applyReport, eventsOf, isEnded, nextStep, outcomeOf, type RequestStep } from "../../domain/callbacks/CallProgress.ts"
import { planOf } from "../../domain/callbacks/EscalationPlan.ts"
import type { Target } from "../../domain/callbacks/Department.ts"
import { CallbackDial, CallbackEscalate } from "../../domain/callbacks/Jobs.ts"
import { Priority } from "../../domain/jobs/JobDefinition.ts"
import { CallbackConfig, retryPolicyOf } from "../../infra/callbacks/CallbackConfig.ts"
import { AttemptStore } from "../../infra/callbacks/AttemptStore.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { HistoryStore } from "../../infra/callbacks/HistoryStore.ts"
import { type MoveDetails, RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { oncePerDelivery, type WebhookDelivery } from "../../infra/callbacks/WebhookDeliveries.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { classifyReported, reportedErrorText } from "../../infra/twilio/TwilioErrors.ts"
import { ourId } from "../Failures.ts"
import { targetOfRequest } from "./Departments.ts"
import { enqueueNotice } from "./Texts.ts"

/**
 * Enqueues the request's next dial: at `runAt` (now when absent), under its department's concurrency key
 * (the business's own for `main`).
 * The unique key names the attempt to come (generation, status, number and attempt on it), so a step
 * that runs twice (a retried escalation) still enqueues one dial; `after` (an attempt taken back) tells
 * a dial again for the same attempt from the one that was taken back.
 */
export const enqueueDial = (request: CallbackRequest, target: Pick<Target, "slot" | "maxConcurrentCalls">, runAt?: Date, after?: string) =>
  enqueue(
    CallbackDial,
    { callbackId: request.id, generation: request.generation },
    {
      runAt,
      priority: request.priority === "high" ? Priority.high : Priority.normal,
      concurrencyKey: target.slot,
      concurrencyLimit: target.maxConcurrentCalls,
      uniqueKey: `callback.dial:${request.id}:${request.generation}:${request.status}:${request.escalationLevel}:${request.attemptOnNumber}${after === undefined ? "" : `:after:${after}`}`,
      traceparent: request.traceparent
    }
  )

/**
 * Moves a request on after a call that did not connect the visitor (unanswered, or declined by the agent): a
 * retry on the same number after the policy's delay, the next number of the plan, or, after the last, failed
 * (with the SMS fallback when the business sends one). Inside the caller's transaction; `details` go into the
 * move's history event.
 */
export const moveOn = (
  request: CallbackRequest,
  step: Extract<RequestStep, { readonly _tag: "Retry" | "Escalate" | "GiveUp" }>,
  target: Pick<Target, "slot" | "maxConcurrentCalls">,
  smsFallback: boolean,
  details: MoveDetails = {}
) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    switch (step._tag) {
      case "Retry": {
        const at = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(step.after))
        const moved = yield* requests.applyEvent(request.id, "retryLater", { nextAttemptAt: at }, {}, details)
        if (Option.isSome(moved)) yield* enqueueDial(moved.value, target, at)
        return moved
      }
      case "Escalate": {
        const moved = yield* requests.applyEvent(request.id, "escalate", { escalationLevel: step.position.level, attemptOnNumber: 0 }, {}, details)
        if (Option.isSome(moved)) yield* enqueue(CallbackEscalate, { callbackId: moved.value.id, level: step.position.level }, { traceparent: moved.value.traceparent })
        return moved
      }
      case "GiveUp": {
        const moved = yield* requests.applyEvent(request.id, "giveUp", {}, {}, details)
        if (Option.isSome(moved) && smsFallback) yield* enqueueNotice(moved.value, "fallback")
        return moved
      }
    }
  })

export interface CallReport {
  /** Twilio's CallStatus (or `answered`). */
  readonly status: string
  readonly sequence?: number | undefined
  readonly callSid?: string | undefined
  readonly error?: string | undefined
  /** The number itself was refused for good: move on in the plan without retrying it. */
  readonly exhaustNumber?: boolean | undefined
}

/** Applies a report about attempt `attemptId`; whether it changed anything. */
export const settle = (attemptId: string, report: CallReport) =>
  Effect.gen(function* () {
    const attempts = yield* AttemptStore
    const requests = yield* RequestStore
    const businesses = yield* BusinessStore
    const jobs = yield* JobStore
    const history = yield* HistoryStore
    const metrics = yield* Metrics
    const settings = yield* CallbackConfig
    return yield* inTransaction(
      Effect.gen(function* () {
        const attempt = yield* attempts.lock(attemptId)
        if (Option.isNone(attempt)) return false
        const next = applyReport(attempt.value, report.status)
        if (next === undefined) {
          // nothing new, but a report may be the first to bring the call's sid
          if (report.callSid !== undefined && attempt.value.callSid === undefined && !isEnded(attempt.value.status)) {
            yield* attempts.markPlaced(attemptId, report.callSid)
          }
          return false
        }
        const updated = yield* attempts.update(attemptId, { ...next, callSid: report.callSid, sequence: report.sequence, error: report.error })
        yield* history.append(updated.callbackId, "call.status", { attemptId, callStatus: updated.status, answered: updated.answered, error: updated.error })
        if (isEnded(updated.status)) {
          // the call no longer holds its business's slot: the next dial waiting for one runs as this commits
          yield* jobs.releaseSlot(attemptId)
          metrics.dialAttempts.inc({ outcome: outcomeOf(updated) })
        }
        const request = yield* requests.lock(attempt.value.callbackId)
        if (Option.isNone(request) || request.value.currentAttemptId !== attemptId) return true
        const business = yield* businesses.find(request.value.businessId)
        if (Option.isNone(business)) return true
        const target = yield* targetOfRequest(business.value, request.value)
        const levels = planOf(target).length
        const step = nextStep(request.value, updated, levels, retryPolicyOf(settings), report.exhaustNumber === true)
        switch (step._tag) {
          case "Retry":
          case "Escalate":
          case "GiveUp":
            yield* moveOn(request.value, step, target, business.value.smsFallback)
            break
          default:
            for (const event of eventsOf(step)) yield* requests.applyEvent(request.value.id, event)
        }
        return true
      })
    )
  }).pipe(Effect.withSpan("callback.settle", { attributes: { "attempt.id": attemptId, "call.status": report.status } }))

/** A call status callback as the webhook decoded it. */
export interface CallStatusReport {
  readonly status: string
  readonly sequence?: number | undefined
  readonly callSid?: string | undefined
  /** Twilio's `ErrorCode`, when the call failed. */
  readonly errorCode?: string | undefined
}

/**
 * A status report Twilio sent about attempt `attemptId` (the status webhook); `NotFound` when the id cannot be
 * one of ours. Applied once per `delivery` (a retry of it changes nothing). An `ErrorCode` is stored as the
 * attempt's error, with its meaning when known; one that says the number itself is bad exhausts the number.
 */
export const reportCall = (attemptId: string, report: CallStatusReport, delivery?: WebhookDelivery) =>
  Effect.gen(function* () {
    yield* ourId("call attempt", attemptId)
    const error = report.errorCode === undefined ? undefined : classifyReported(report.errorCode)
    yield* oncePerDelivery(
      delivery,
      settle(attemptId, {
        status: report.status,
        sequence: report.sequence,
        callSid: report.callSid,
        error: error === undefined ? undefined : reportedErrorText(error),
        exhaustNumber: error?.kind === "permanent"
      })
    )
  })
