/**
 * The callback request's use cases, whoever asks (the public API, the admin
 * API, the CLI): create, verify, resend the code, show, list, and an
 * operator's retry and cancel.
 *
 * Every write is one transaction: the lookups, the status change and the jobs
 * it enqueues commit together or not at all, so a refused request leaves
 * nothing behind. A create's rate limits are counted just before its
 * transaction, in one statement of their own (so one client's creates do not
 * wait for each other's commits), and given back when the create creates
 * nothing: a refused request counts toward no limit. Status changes go
 * through the request store's `applyEvent`, which applies the domain's transition
 * table (domain/callbacks/CallbackState.ts).
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type CallAttempt, type CallbackRequest, priorityFor } from "../../domain/callbacks/Business.ts"
import { type CallbackStatus, CallbackStatuses } from "../../domain/callbacks/CallbackState.ts"
import { callInWindow, MAIN, nextWindows, onAfterHoursChain, type Target, targetOf, whenToCall } from "../../domain/callbacks/Department.ts"
import { WINDOW_HORIZON_DAYS } from "../../domain/callbacks/OpeningHours.ts"
import { check, expiresAt, mayResend, PendingCallback } from "../../domain/callbacks/Verification.ts"
import { CallbackConfig, type RateLimit, verificationPolicyOf } from "../../infra/callbacks/CallbackConfig.ts"
import { AttemptStore } from "../../infra/callbacks/AttemptStore.ts"
import { DepartmentStore } from "../../infra/callbacks/DepartmentStore.ts"
import { HistoryStore } from "../../infra/callbacks/HistoryStore.ts"
import { type ActiveRequestExists, type RequestFilter, RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { VerificationStore } from "../../infra/callbacks/VerificationStore.ts"
import { hashCode, hashStreamToken, newStreamToken } from "../../infra/callbacks/Codes.ts"
import { hashBody, remember, reserve, wouldReplay } from "../../infra/callbacks/Idempotency.ts"
import { release, take } from "../../infra/callbacks/RateLimiter.ts"
import { ServerSecrets } from "../../infra/callbacks/ServerSecrets.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { currentTraceparent } from "../../infra/observability/TraceContext.ts"
import { TraceExport } from "../../infra/observability/Tracing.ts"
import { normalizePhone } from "../../infra/phone/PhoneNumbers.ts"
import { Conflict, Gone, lookUp, RateLimited, Unprocessable, validationFailedAt, WindowUnavailable, WrongCode } from "../Failures.ts"
import * as BotChecks from "./BotChecks.ts"
import * as Businesses from "./Businesses.ts"
import { refusedByBudget, refuseLocked, spend, spendUnlessLocked, verificationFailed } from "./Budgets.ts"
import { targetFor, targetOfRequest } from "./Departments.ts"
import { enqueueDial } from "./Settlement.ts"
import { enqueueCode } from "./Texts.ts"


const seconds = (d: Duration.Duration) => Math.max(1, Math.ceil(Duration.toSeconds(d)))

/**
 * Checks and records one event in each bucket (tagged `ref`, to give them back), in one statement of
 * its own; `RateLimited`, naming the first full one, when any is full (and nothing is recorded).
 */
export const limitedAll = (limits: ReadonlyArray<{ readonly bucket: string; readonly limit: RateLimit; readonly what: string }>, ref?: string) =>
  Effect.flatMap(take(limits, ref), (decision) => {
    if (decision.allowed) return Effect.void
    const { limit, what } = limits.find((l) => l.bucket === decision.bucket) ?? limits[0]!
    return Effect.fail(new RateLimited({ detail: `too many ${what}; at most ${limit.limit} per ${Duration.format(limit.window)}`, retryAfterSeconds: seconds(decision.retryAfter) }))
  })

/** {@link limitedAll} for one bucket. */
export const limited = (bucket: string, limit: RateLimit, what: string) => limitedAll([{ bucket, limit, what }])

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const lockRequest = (id: string) => Effect.flatMap(RequestStore, (requests) => lookUp("callback request", id, requests.lock))

/** Why a request that is not awaiting verification refuses a verification step. */
const notPending = (request: CallbackRequest) =>
  request.status === "expired"
    ? new Gone({ detail: "this request expired before it was verified; create a new one" })
    : new Conflict({ detail: request.status === "cancelled" ? "this request was cancelled" : "this request is already verified", extra: { id: request.id, callbackStatus: request.status } })

/**
 * When to call in the visitor's window: its first instant, not before `at`, at which `target` is open; a window
 * that never meets the opening hours within the horizon (or has passed) is refused with the next windows that would.
 */
const windowMeetsHours = (target: Target, window: { readonly start: Date; readonly end: Date }, at: Date) => {
  const first = callInWindow(target, window, at)
  if (first !== undefined) return Effect.succeed(first)
  const detail = window.end.getTime() <= at.getTime()
    ? "the chosen window has passed; choose another"
    : `the chosen window does not meet the opening hours of ${target.name} within the next ${WINDOW_HORIZON_DAYS} days`
  return Effect.fail(new WindowUnavailable({ detail, nextWindows: nextWindows(target, at).map((w) => ({ start: w.start.toISOString(), end: w.end.toISOString() })) }))
}

export interface CreateCommand {
  readonly businessId: string
  /** As the visitor typed it; read in the business's country when it has no country code. */
  readonly phone: string
  readonly name?: string | undefined
  readonly note?: string | undefined
  /** The department the visitor chose (absent or `main`: the business's own). */
  readonly topic?: string | undefined
  /** When the visitor wants to be called (absent: as soon as possible). */
  readonly window?: { readonly start: Date; readonly end: Date } | undefined
  readonly idempotencyKey?: string | undefined
  /** Who asked: one of the rate limits is per address. */
  readonly clientIp: string
  /** Present for a create from a web page (a publishable key): the business's bot check, if it has one, must pass. */
  readonly botCheck?: { readonly token: string | undefined } | undefined
}

/**
 * A new request awaiting its code (the code is texted by a `verification.send`
 * job). With an idempotency key, the first outcome is kept for 24 hours and a
 * repeat of the same command replays it (`replayed`).
 */
export const create = (command: CreateCommand) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const settings = yield* CallbackConfig
    const { exporting } = yield* TraceExport
    const traceparent = exporting ? yield* currentTraceparent : undefined
    const key = command.idempotencyKey === undefined ? undefined : `create:${command.idempotencyKey}`
    // the fields this use case reads, nothing else, so unknown fields (and the bot check's token) cannot make two bodies differ
    const bodyHash = hashBody({ businessId: command.businessId, phone: command.phone, name: command.name, note: command.note, ...(command.topic === undefined ? {} : { topic: command.topic }), ...(command.window === undefined ? {} : { window: command.window }) })
    if (command.botCheck !== undefined) {
      // before the transaction: the provider is asked over the network, with no connection held
      const setting = yield* BotChecks.settingOf(command.businessId)
      if (Option.isSome(setting) && (key === undefined || !(yield* wouldReplay(key, bodyHash)))) {
        yield* BotChecks.pass(command.businessId, setting.value, { token: command.botCheck.token, clientIp: command.clientIp })
      }
    }
    // the business first: its country reads the phone, and the phone names a limit's bucket
    const business = yield* Businesses.find(command.businessId)
    const normalized = normalizePhone(command.phone, business.country, true)
    if (normalized._tag !== "E164") {
      const message = normalized._tag === "NotMobile" ? "must be a mobile number that can receive a text message" : "is not a valid phone number (use +<country code><number>)"
      return yield* validationFailedAt("body", "/phone", message)
    }
    const phone = normalized.e164
    const department = command.topic ?? MAIN
    const chosen = department === MAIN ? Option.none() : yield* Effect.flatMap(DepartmentStore, (store) => store.find(business.id, department))
    if (department !== MAIN && Option.isNone(chosen)) return yield* validationFailedAt("body", "/topic", "is not a topic of this business")
    if (command.window !== undefined) yield* windowMeetsHours(targetOf(business, Option.getOrUndefined(chosen)), command.window, yield* now)
    const id = randomUUID()
    // the limits, counted in one statement of their own before the transaction (tagged with the new
    // request's id), so creates from one address never wait for each other's commits; whatever then
    // creates nothing (a replay, a conflict, a lockout, a budget, an outage) gives them back below
    const refusedButAnswered = yield* limitedAll([
      { bucket: `create:phone:${phone}`, limit: settings.createPerPhone, what: "callback requests for this phone" },
      { bucket: `create:ip:${command.clientIp}`, limit: settings.createPerIp, what: "callback requests from this address" }
    ], id).pipe(
      Effect.as(undefined),
      // a repeat of a create that was answered is replayed, full limits or not (and counts nothing)
      Effect.catchTag("RateLimited", (refused) =>
        key === undefined ? Effect.fail(refused) : Effect.flatMap(wouldReplay(key, bodyHash), (replay) => (replay ? Effect.succeed(refused) : Effect.fail(refused)))
      )
    )
    const giveBack = refusedButAnswered === undefined
      ? Effect.catchAll(release(id), (error) => Effect.logWarning(`could not give back the rate-limit events of a create that created nothing (${id}); they count until their window ends`, error))
      : Effect.void
    const outcome = yield* refusedByBudget(inTransaction(
      Effect.gen(function* () {
        if (key !== undefined) {
          const reservation = yield* reserve(key, bodyHash)
          if (reservation._tag === "Mismatch") return yield* new Unprocessable({ detail: "this Idempotency-Key was used with a different body within 24 hours" })
          if (reservation._tag === "Replay") return { pending: yield* Effect.orDie(Schema.decodeUnknown(PendingCallback)(reservation.body)), replayed: true }
        }
        if (refusedButAnswered !== undefined) return yield* refusedButAnswered
        const streamToken = newStreamToken()
        const request = yield* requests
          .create({
            id,
            businessId: business.id,
            phone,
            name: command.name,
            note: command.note,
            department,
            window: command.window,
            priority: priorityFor(business, phone),
            traceparent,
            streamTokenHash: hashStreamToken(streamToken)
          })
          .pipe(Effect.catchTag("ActiveRequestExists", (e: ActiveRequestExists) => new Conflict({ detail: "an active callback request for this phone and business exists", extra: { id: e.id } })))
        // its verification opened in the same statement as the request: issued when it was created
        yield* enqueueCode(request.id, phone, request.createdAt, traceparent)
        // the phone's lockout, then the code's text against the business's and the account's budgets, in one
        // statement: the very last, the budgets' locks are the widest
        yield* spendUnlessLocked(phone, "sms", business.id, "create", request.id)
        const pending: PendingCallback = {
          id: request.id,
          status: "pending_verification",
          verification: { channel: "sms", expiresAt: expiresAt({ issuedAt: request.createdAt }, verificationPolicyOf(settings)) },
          streamToken
        }
        if (key !== undefined) yield* remember(key, 202, Schema.encodeSync(PendingCallback)(pending))
        return { pending, replayed: false }
      })
    )).pipe(Effect.tapError(() => giveBack))
    if (outcome.replayed) yield* giveBack
    return outcome
  })

/**
 * The visitor enters the texted code: a right one queues the request (for the
 * business's next opening when it is closed) and enqueues its first dial.
 */
export const verify = (id: string, code: string, clientIp: string) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const verifications = yield* VerificationStore
    const metrics = yield* Metrics
    const settings = yield* CallbackConfig
    const policy = verificationPolicyOf(settings)
    yield* limited(`verify:ip:${clientIp}`, settings.verifyPerIp, "verification attempts from this address")
    const secret = yield* Effect.flatMap(ServerSecrets, (secrets) => secrets.codeSecret)
    const result = yield* refusedByBudget(inTransaction(
      Effect.gen(function* () {
        const request = yield* lockRequest(id)
        if (request.status !== "pending_verification") return yield* notPending(request)
        // a phone locked after failed verifications takes no code, not even the right one
        yield* refuseLocked(request.phone)
        const verification = yield* verifications.lock(request.id)
        if (Option.isNone(verification)) return yield* new Gone({ detail: "no code was issued for this request" })
        const v = verification.value
        // any text is an attempt; hashed with the stored id, whatever case the URL gave it in
        const entered = /^\d{6}$/.test(code.trim()) ? hashCode(secret, request.id, code.trim()) : "not-a-code"
        const at = yield* now
        const outcome = check({ codeHash: v.codeHash ?? "no-code-yet", issuedAt: v.issuedAt, checks: v.checks, usedAt: v.usedAt }, entered, at, policy)
        if (outcome._tag === "Gone") {
          metrics.verificationChecks.inc({ result: outcome.reason === "out_of_attempts" ? "exhausted" : outcome.reason })
          return { _tag: "Gone" as const, reason: outcome.reason }
        }
        if (outcome._tag === "WrongCode") {
          yield* verifications.countCheck(request.id)
          metrics.verificationChecks.inc({ result: "wrong" })
          // the code is spent: the request's verification failed for good, which counts toward its phone's lockout
          if (outcome.attemptsRemaining === 0) yield* verificationFailed({ phone: request.phone, callbackId: request.id, businessId: request.businessId })
          return { _tag: "Wrong" as const, attemptsRemaining: outcome.attemptsRemaining }
        }
        metrics.verificationChecks.inc({ result: "verified" })
        yield* verifications.markVerified(request.id)
        const business = yield* Businesses.find(request.businessId)
        // a chosen window: its first open instant; otherwise (or once the window has passed while the code waited),
        // when closed: the after-hours chain now if there is one, else the opening
        const target = yield* targetFor(business, request.department)
        const inWindow = request.window === undefined ? undefined : callInWindow(target, request.window, at)
        const when = inWindow === undefined ? whenToCall(target, at) : ({ _tag: "AtOpening", opensAt: inWindow } as const)
        const scheduledFor = when._tag === "AtOpening" ? when.opensAt : at
        const queued = yield* requests.applyEvent(request.id, "verify", { scheduledFor, afterHours: when._tag === "AfterHours" })
        if (Option.isNone(queued)) return yield* notPending(request)
        yield* enqueueDial(queued.value, when._tag === "AfterHours" ? onAfterHoursChain(target) : target, scheduledFor.getTime() > at.getTime() ? scheduledFor : undefined)
        // the first call, against the budgets, last; the dial that places it takes this count over (Budgets.spendOnDial)
        yield* spend("call", business.id, "verify", request.id)
        return { _tag: "Verified" as const, request: queued.value, scheduledFor }
      })
    ))
    // a wrong or spent code is answered after the commit: the check it used must count
    switch (result._tag) {
      case "Gone":
        return yield* new Gone({
          detail: result.reason === "expired" ? "the code expired; ask for a new one" : result.reason === "used" ? "the code was already used" : "too many wrong codes; ask for a new one",
          extra: { reason: result.reason }
        })
      case "Wrong":
        return yield* new WrongCode({ detail: "the code does not match", attemptsRemaining: result.attemptsRemaining })
      case "Verified":
        return { id: result.request.id, status: result.request.status, scheduledFor: result.scheduledFor }
    }
  })

/** A new code for a request still awaiting one (the old code stops working), within the send limit. */
export const resend = (id: string, clientIp: string) =>
  Effect.gen(function* () {
    const verifications = yield* VerificationStore
    const settings = yield* CallbackConfig
    const policy = verificationPolicyOf(settings)
    yield* limited(`verify:ip:${clientIp}`, settings.verifyPerIp, "verification attempts from this address")
    return yield* refusedByBudget(inTransaction(
      Effect.gen(function* () {
        const request = yield* lockRequest(id)
        if (request.status !== "pending_verification") return yield* notPending(request)
        yield* refuseLocked(request.phone)
        const verification = yield* verifications.lock(request.id)
        const decision = mayResend(Option.match(verification, { onNone: () => [], onSome: (v) => v.sends }), yield* now, policy)
        if (!decision.allowed) {
          return yield* new RateLimited({ detail: `at most ${policy.maxSends} codes per ${Duration.format(policy.sendWindow)} for one request`, retryAfterSeconds: seconds(decision.retryAfter) })
        }
        const issuedAt = yield* verifications.reissue(request.id)
        yield* enqueueCode(request.id, request.phone, issuedAt, request.traceparent)
        yield* spend("sms", request.businessId, "resend")
        const pending: PendingCallback = { id: request.id, status: "pending_verification", verification: { channel: "sms", expiresAt: expiresAt({ issuedAt }, policy) } }
        return pending
      })
    ))
  })

/** A request with its attempts, in the order they were made. */
export interface RequestWithAttempts extends CallbackRequest {
  readonly attempts: ReadonlyArray<CallAttempt>
}

const withAttempts = (request: CallbackRequest) =>
  Effect.map(
    Effect.flatMap(AttemptStore, (attempts) => attempts.listOf(request.id)),
    (attempts): RequestWithAttempts => ({ ...request, attempts })
  )

/** One request and its attempts, or `NotFound`. */
export const show = (id: string) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    return yield* withAttempts(yield* lookUp("callback request", id, requests.find))
  })

/** A request's events after `afterSeq` (all when 0), oldest first; `NotFound` for a request that does not exist. */
export const history = (id: string, afterSeq = 0) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const history = yield* HistoryStore
    const request = yield* lookUp("callback request", id, requests.find)
    return yield* history.ofRequest(request.id, afterSeq)
  })

/** One request, its attempts and its whole history. */
export const showWithHistory = (id: string) =>
  Effect.gen(function* () {
    const request = yield* show(id)
    const events = yield* Effect.flatMap(HistoryStore, (h) => h.ofRequest(request.id))
    return { ...request, events }
  })

/** Requests newest first, each with its attempts, and the cursor of the next page when the page is full. */
export const list = (filter: RequestFilter) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const rows = yield* requests.list(filter)
    const items = yield* Effect.forEach(rows, ({ request }) => withAttempts(request))
    const last = rows.length === filter.limit ? rows[rows.length - 1] : undefined
    return { items, nextCursor: last?.cursor }
  })

/**
 * An operator's retry (failed or cancelled -> queued, from the business's own
 * number again, with a new generation) or cancel, in one transaction (a
 * savepoint inside the caller's): the request moved, or `Conflict` when it may
 * not move and nothing changed. A request cancelled before its phone was
 * verified is never called: the visitor must ask again. A bulk operation's
 * batch applies it to each of its requests (src/jobs/BulkOperations.ts).
 */
export const applyOperatorChange = (id: string, event: "adminRetry" | "cancel") =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const verifications = yield* VerificationStore
    return yield* inTransaction(
      Effect.gen(function* () {
        const request = yield* lockRequest(id)
        const refuse = (detail: string) => new Conflict({ detail, extra: { id: request.id, callbackStatus: request.status } })
        if (event === "adminRetry") {
          const verification = yield* verifications.lock(request.id)
          if (Option.isNone(verification) || verification.value.usedAt === undefined) return yield* refuse("this request was never verified; the visitor must ask for a new callback")
        }
        const change = event === "adminRetry" ? { bumpGeneration: true, escalationLevel: 0, attemptOnNumber: 0, currentAttemptId: null, nextAttemptAt: null, scheduledFor: null } : {}
        const moved = yield* requests
          .applyEvent(request.id, event, change)
          // the visitor has another active request for this business meanwhile
          .pipe(Effect.catchTag("ActiveRequestExists", () => refuse("the visitor has another active request for this business")))
        if (Option.isNone(moved)) return yield* refuse(`a ${request.status} callback request cannot be ${event === "cancel" ? "cancelled" : "retried"}`)
        if (event === "adminRetry") yield* enqueueDial(moved.value, yield* targetOfRequest(yield* Businesses.find(request.businessId), moved.value))
        return moved.value
      })
    )
  })

/** {@link applyOperatorChange} to one request, answered with its attempts. */
export const operatorChange = (id: string, event: "adminRetry" | "cancel") => Effect.flatMap(applyOperatorChange(id, event), withAttempts)

export interface Stats {
  readonly callbacks: Readonly<Record<CallbackStatus, number>>
  readonly last24h: { readonly created: number; readonly completed: number; readonly failed: number }
  /** Completed over finished (completed or failed) in the last 24 hours; null when none finished. */
  readonly successRate: number | null
}

/**
 * Requests by status now, and what the last 24 hours created and finished, counted from the history:
 * a request that failed and was retried by an operator still counts as failed, and again as completed
 * when its retry succeeds.
 */
export const stats = Effect.gen(function* () {
  const requests = yield* RequestStore
  const history = yield* HistoryStore
  const counts = yield* requests.countByStatus
  const recent = yield* history.countRecent(["callback.created", "callback.completed", "callback.failed"], 24)
  const created = recent.get("callback.created") ?? 0
  const completed = recent.get("callback.completed") ?? 0
  const failed = recent.get("callback.failed") ?? 0
  const callbacks = Object.fromEntries(CallbackStatuses.map((s) => [s, counts.find((c) => c.status === s)?.n ?? 0])) as Record<CallbackStatus, number>
  return {
    callbacks,
    last24h: { created, completed, failed },
    successRate: completed + failed === 0 ? null : completed / (completed + failed)
  } satisfies Stats
})
