/**
 * The text messages of the callback flow, and the escalation step.
 *
 * - `verification.send` texts the code of the issue its job names (derived
 *   from the issue, so a retry texts the same code and the visitor's first
 *   text still works), storing its hash and the message row in one statement
 *   first; an issue replaced since (a resend) is not texted, its own job texts
 *   the new code.
 * - `callback.sms_fallback` texts a notice or the final word at most once per
 *   request generation: the message row is written before Twilio is asked, a
 *   refusal that sent nothing removes it (so a retry may send), and an
 *   ambiguous failure keeps it (so nothing is sent twice). The text counts
 *   against the business's and the account's budgets with its row; while one
 *   is spent the job snoozes (src/callbacks/Budgets.ts).
 * - `callback.escalate` moves an escalated request on to its next number.
 *
 * Each text goes out from the number its job names (src/callbacks/Texts.ts):
 * its visitor's sender in the pool, whose rate key paced the job.
 *
 * Codes never reach logs, spans or job arguments: only the SMS body holds one.
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { CallbackRequest } from "../../domain/callbacks/Business.ts"
import { expiresAt } from "../../domain/callbacks/Verification.ts"
import { CallbackEscalate, CallbackSmsFallback, type SmsKind, VerificationSend } from "../../domain/callbacks/Jobs.ts"
import { Permanent, Retryable, Snooze } from "../../domain/jobs/JobErrors.ts"
import { CallbackConfig, verificationPolicyOf } from "../../infra/callbacks/CallbackConfig.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { release as releaseBudget } from "../../infra/callbacks/Budgets.ts"
import { HistoryStore } from "../../infra/callbacks/HistoryStore.ts"
import { MessageStore } from "../../infra/callbacks/MessageStore.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { ServerSecrets } from "../../infra/callbacks/ServerSecrets.ts"
import { VerificationStore } from "../../infra/callbacks/VerificationStore.ts"
import { oncePerDeliveryStatement, type WebhookDelivery } from "../../infra/callbacks/WebhookDeliveries.ts"
import { codeOf, hashCode } from "../../infra/callbacks/Codes.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { type CircuitOpen, Telephony, type TelephonyError } from "../../infra/twilio/Telephony.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { classifyReported, reportedErrorText } from "../../infra/twilio/TwilioErrors.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { ourId } from "../Failures.ts"
import { deferForBudget, spendOnText } from "./Budgets.ts"
import { asJobFailure } from "./JobFailures.ts"
import { targetOfRequest } from "./Departments.ts"
import { enqueueDial } from "./Settlement.ts"
import { sendingNumber } from "./Texts.ts"

/** A failed send as the job engine should treat it. */
const sendFailure = (error: TelephonyError | CircuitOpen) =>
  error._tag === "CircuitOpen"
    ? Snooze.for(Duration.max(error.retryAfter, Duration.seconds(1)), "the sms circuit is open", "circuit")
    : error.kind === "permanent"
      ? new Permanent({ message: `Twilio refused the text (${error.code ?? error.status}): ${error.message}` })
      : error.retryAfter !== undefined
        ? // turned away with a Retry-After: nothing was sent, so it waits as long as Twilio asked and spends no attempt
          Snooze.for(Duration.max(error.retryAfter, Duration.seconds(1)), `Twilio asked to wait: ${error.message}`, "rate_limit")
        : new Retryable({ message: `Twilio did not take the text: ${error.message}` })

const statusCallbackFor = (messageId: string) => Effect.map(Effect.flatMap(TwilioGateway, (g) => g.publicBaseUrl), (base) => `${base}/twilio/status/sms/${messageId}`)

const minutes = (d: Duration.Duration) => Math.max(1, Math.round(Duration.toMinutes(d)))

export const sendVerification = (callbackId: string, from?: string, issued?: Date) =>
  Effect.gen(function* () {
    const verifications = yield* VerificationStore
    const messages = yield* MessageStore
    const history = yield* HistoryStore
    const telephony = yield* Telephony
    const metrics = yield* Metrics
    const policy = verificationPolicyOf(yield* CallbackConfig)
    const secret = yield* Effect.flatMap(ServerSecrets, (secrets) => secrets.codeSecret)
    // the issue this text is for: the job names it; one enqueued before jobs did texts the code in force
    const issuedAt = issued ?? Option.getOrUndefined(yield* verifications.issuedAt(callbackId))
    if (issuedAt === undefined || expiresAt({ issuedAt }, policy).getTime() <= (yield* Clock.currentTimeMillis)) return
    // the issue's own code: a send that runs again texts the same one, and the visitor's first text still works
    const id = callbackId.toLowerCase() // as stored, and as `verify` hashes what the visitor types
    const code = codeOf(secret, id, issuedAt)
    const messageId = randomUUID()
    const phone = yield* verifications.prepareText({ callbackId: id, issuedAt, codeHash: hashCode(secret, id, code), messageId })
    if (Option.isNone(phone)) return
    const body = `Your callback verification code is ${code}. It expires in ${minutes(policy.codeLifetime)} minutes.`
    const sender = yield* sendingNumber(from, phone.value)
    const sent = yield* telephony.sendSms({ to: phone.value, from: sender, body, statusCallback: yield* statusCallbackFor(messageId) }).pipe(Effect.either)
    if (Either.isLeft(sent)) {
      yield* messages.setFailed(messageId, sent.left._tag === "TelephonyError" && sent.left.ambiguous ? "unknown" : "not_sent", sent.left.message)
      return yield* sendFailure(sent.left)
    }
    yield* history.append(callbackId, "callback.code_sent", { messageId }, messages.setSent(messageId, sent.right.sid))
    metrics.smsSent.inc({ kind: "verification" })
  }).pipe(
    asJobFailure,
    Effect.withSpan("verification.send", { attributes: { "callback.id": callbackId } })
  )

const bodyOf = (kind: SmsKind, businessName: string): string =>
  kind === "fallback"
    ? `Sorry, ${businessName} could not reach you by phone this time. Please request a new callback or contact them directly.`
    : `${businessName} received your callback request. Calls are delayed right now; we will call you as soon as we can.`

export const sendOnce = (callbackId: string, kind: SmsKind, generation: number, from?: string) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const businesses = yield* BusinessStore
    const messages = yield* MessageStore
    const history = yield* HistoryStore
    const telephony = yield* Telephony
    const metrics = yield* Metrics
    const request = yield* requests.find(callbackId)
    if (Option.isNone(request) || request.value.generation !== generation) return
    const business = yield* businesses.find(request.value.businessId)
    const messageId = randomUUID()
    const claimed = yield* inTransaction(
      Effect.gen(function* () {
        if (!(yield* messages.insert({ id: messageId, callbackId, kind, generation, to: request.value.phone }))) return false
        yield* spendOnText(callbackId, request.value.businessId, messageId)
        return true
      })
    ).pipe(Effect.catchTag("BudgetRefused", (refused) => deferForBudget(callbackId, refused)))
    if (!claimed) {
      // sent, being sent, or possibly sent by an earlier try; one that sent nothing removed its row, and
      // a row removed between the insert and now means a try failed just now: its retry will send
      return
    }
    const body = bodyOf(kind, Option.match(business, { onNone: () => "The business", onSome: (b) => b.name }))
    const sender = yield* sendingNumber(from, request.value.phone)
    const sent = yield* telephony.sendSms({ to: request.value.phone, from: sender, body, statusCallback: yield* statusCallbackFor(messageId) }).pipe(Effect.either)
    if (Either.isLeft(sent)) {
      const error = sent.left
      if (error._tag === "TelephonyError" && error.ambiguous) {
        yield* messages.setFailed(messageId, "unknown", error.message)
        yield* Effect.logWarning(`the ${kind} text of callback ${callbackId} may or may not have been sent (${error.message}); not sending it again`)
        return
      }
      yield* messages.remove(messageId)
      yield* releaseBudget(messageId)
      return yield* sendFailure(error)
    }
    yield* history.append(callbackId, "sms.sent", { messageId, kind }, messages.setSent(messageId, sent.right.sid))
    metrics.smsSent.inc({ kind })
  }).pipe(
    asJobFailure,
    Effect.withSpan("callback.sms", { attributes: { "callback.id": callbackId, "sms.kind": kind } })
  )

/** Moves an escalated request on: its next dial, at once (the backup's attempts start at 1). */
export const escalate = (callbackId: string, level: number) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const businesses = yield* BusinessStore
    const metrics = yield* Metrics
    const request: Option.Option<CallbackRequest> = yield* requests.find(callbackId)
    if (Option.isNone(request) || request.value.status !== "escalated" || request.value.escalationLevel !== level) return
    const business = yield* businesses.find(request.value.businessId)
    if (Option.isNone(business)) return
    yield* enqueueDial(request.value, yield* targetOfRequest(business.value, request.value))
    metrics.escalations.inc({ level: String(level) })
    yield* Effect.logInfo(`callback ${callbackId} escalated to backup number ${level}`)
  }).pipe(
    asJobFailure,
  )

export const VerificationSendHandler = handle(VerificationSend, (args) => sendVerification(args.callbackId, args.from, args.issuedAt))
export const SmsFallbackHandler = handle(CallbackSmsFallback, (args) => sendOnce(args.callbackId, args.kind, args.generation, args.from))
export const EscalateHandler = handle(CallbackEscalate, (args) => escalate(args.callbackId, args.level))

/** A message status callback as the webhook decoded it. */
export interface MessageStatusReport {
  readonly status: string | undefined
  readonly sequence?: number | undefined
  /** Twilio's `ErrorCode`, when the text failed or was undelivered. */
  readonly errorCode?: string | undefined
}

/**
 * A status report Twilio sent about text `messageId` (the message status webhook); `NotFound` when the id cannot
 * be one of ours. Applied once per `delivery` and only forward; an `ErrorCode` is stored as the text's error.
 */
export const reportMessage = (messageId: string, report: MessageStatusReport, delivery?: WebhookDelivery) =>
  Effect.gen(function* () {
    yield* ourId("text message", messageId)
    const { status } = report
    if (status === undefined) return
    const error = report.errorCode === undefined ? undefined : reportedErrorText(classifyReported(report.errorCode))
    const messages = yield* MessageStore
    yield* oncePerDeliveryStatement(delivery, "messages.report", (guard) => messages.report(messageId, status, report.sequence ?? 0, error, guard))
  })
