/**
 * `callback.dial`: places a request's next call; `callback.watch`: looks
 * after that call until it ends.
 *
 * The dial job only runs once the engine has admitted it under its
 * department's key (`business:<id>` for the business's own, `business:<id>:<key>`
 * for another; limit maxConcurrentCalls), so everything below happens
 * with a slot held; waiting for a slot runs nothing and records nothing. The
 * call keeps that slot through a lease the attempt owns (migrations/
 * 0020_slot_leases.sql), written with the attempt, so the job ends as soon as
 * Twilio has answered the create: no runner waits through a call. The lease
 * is given back when the call ends (`settle`), or when the attempt is taken
 * back; that wakes the department's next waiting dial.
 * In order:
 * 1. A request already dialing (a rescued or retried job) keeps its current
 *    call: a second call is never placed for one attempt. The job makes sure
 *    the call has its lease and watcher and, as the call's reports may have
 *    been lost meanwhile, asks Twilio about it at once.
 * 2. Outside opening hours (the department's) the job snoozes until the next opening.
 * 3. While the voice circuit is open it snoozes (no attempt spent) and the
 *    visitor gets one SMS notice.
 * 4. Under an advisory lock on the number, in one transaction: if another
 *    attempt to that number (of any request) has a create without a definite
 *    answer, the job snoozes; otherwise the per-destination limit is checked
 *    and recorded, the call is counted against the business's and the
 *    account's budgets (a spent budget rolls all this back and snoozes until
 *    it has room: src/callbacks/Budgets.ts), the attempt row, its lease and
 *    its watcher job are written and the request moves to `dialing`.
 * 5. Twilio is asked to call. A refusal that says nothing was placed puts the
 *    request back as it was (attempt, rate event and lease taken back); a
 *    permanent refusal of the number counts as a failed attempt; an ambiguous
 *    failure is left to the watcher to reconcile (status callbacks, then
 *    Twilio's call list), never re-POSTed. The job ends.
 * 6. The status callbacks settle the call. The watcher asks Twilio for the
 *    call's status when they go quiet for longer than CALL_STATUS_TIMEOUT,
 *    and gives the slot back once the call ended, by whatever path.
 *
 * Why an ambiguous create is never dialed twice
 * ---------------------------------------------
 * An attempt is "unresolved" while its create has no definite answer: status
 * `placing` (written, Twilio not answered) or `unknown` (the answer was lost),
 * with no call sid. Its call, if Twilio made one, was created inside the
 * attempt's window: from `started_at` to TWILIO_TIMEOUT later, widened by
 * CLOCK_SKEW on both sides for Twilio's clock (domain/callbacks/Reconciliation.ts).
 *
 * - Uniqueness. Step 4 takes `pg_advisory_xact_lock` on the number and looks
 *   for an unresolved attempt to it started within the blocking horizon
 *   (TWILIO_TIMEOUT + 2 x CLOCK_SKEW) before writing its own `placing` row in
 *   the same transaction, so of two workers in any processes the second sees
 *   the first's row. Attempts further apart than the horizon have disjoint
 *   windows. So an attempt's window holds at most one unresolved create to
 *   that (From, To) pair: its own. (The horizon also means a row left
 *   unresolved for good cannot hold a number forever.)
 * - Listing independent of start time. Reconciliation lists every call from
 *   TWILIO_FROM to the number (`To` and `From` only; Twilio's `StartTime`
 *   filters leave out a call still queued, which has no start time) and
 *   matches on `date_created`, which a call has from its creation. A listing
 *   cut short by its limit decides nothing.
 * - Ownership. A sid some attempt owns is never adopted (`ownedSids`, and
 *   `unownedSid` in every write of a sid). Every other call from us to the
 *   number created in the window was made by an unresolved create whose
 *   window overlaps, and there is only this one: an unowned call in the window
 *   is this attempt's, and if there is none after the window has closed, the
 *   create made no call, so taking the attempt back and dialing again places
 *   the first call, not a second.
 * - Crashes. Dying after the row is written and before Twilio is asked, or
 *   while the create is in flight, leaves a `placing` row: the request is
 *   `dialing`, the rescued job keeps the attempt (step 1) and it is
 *   reconciled like an `unknown` one, while other dials to the number snooze.
 *   Dying after the answer but before `markPlaced` leaves the same, and the
 *   listing finds the call in the window. Dying during reconciliation changes
 *   nothing or commits one adoption or one take-back (each one statement or
 *   transaction, the take-back with the dial that tries again), and the
 *   watcher (rescued in turn) starts over from what was committed.
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { CallAttempt, CallbackRequest } from "../../domain/callbacks/Business.ts"
import { slotOf, type Target } from "../../domain/callbacks/Department.ts"
import { isEnded } from "../../domain/callbacks/CallProgress.ts"
import { planOf } from "../../domain/callbacks/EscalationPlan.ts"
import { blockingHorizonMs, reconcileCreate, windowOf } from "../../domain/callbacks/Reconciliation.ts"
import { CallbackDial, CallbackWatch } from "../../domain/callbacks/Jobs.ts"
import { closedUntil } from "../../domain/callbacks/OpeningHours.ts"
import { Permanent, Retryable, Snooze } from "../../domain/jobs/JobErrors.ts"
import { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import { AttemptStore } from "../../infra/callbacks/AttemptStore.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { release as releaseBudget } from "../../infra/callbacks/Budgets.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { hit, release } from "../../infra/callbacks/RateLimiter.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { enqueue } from "../../infra/jobs/Jobs.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { HistoryStore } from "../../infra/callbacks/HistoryStore.ts"
import { currentTraceparent } from "../../infra/observability/TraceContext.ts"
import { TraceExport } from "../../infra/observability/Tracing.ts"
import { Telephony } from "../../infra/twilio/Telephony.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { handle } from "../../supervisors/JobRegistry.ts"
import { deferForBudget, spendOnDial } from "./Budgets.ts"
import { targetOfRequest } from "./Departments.ts"
import { asJobFailure } from "./JobFailures.ts"
import { enqueueDial, settle } from "./Settlement.ts"
import { enqueueNotice } from "./Texts.ts"

/** A dial that found nothing placeable waits this long before trying again (Twilio refused without placing). */
const REFUSED_RETRY = Duration.seconds(5)

/**
 * A dial to a number with a create still unresolved looks again this soon: the other create is usually answered
 * within a few hundred milliseconds. A burst of 20 verified requests to one business had all its calls placed
 * 2.1 s after the first verify with this, 4.9-5.2 s with a second (bench:calls, BENCH_CALLS=20 BENCH_BUSINESSES=1).
 */
const UNRESOLVED_RETRY = Duration.millis(250)

/** A watcher that could not look at its call (the database or Twilio did not answer) looks again this soon. */
const WATCH_RETRY = Duration.seconds(5)

/** Sends the visitor one notice per generation that calls cannot be placed right now. */
const noticeOnce = (request: CallbackRequest) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    yield* inTransaction(
      Effect.gen(function* () {
        if (yield* requests.claimCircuitNotice(request.id)) {
          yield* enqueueNotice(request, "circuit_notice")
        }
      })
    )
  })

/**
 * Takes back an attempt whose call was never placed: the request returns to the status the attempt
 * started from (the `takeBack` event, while the attempt is still its current one), the rate event, the
 * budget and the business's slot are given back. With `redial` (no dial job is there to try again: the
 * call's watcher found it), a dial is enqueued for shortly after.
 */
const unplace = (attempt: CallAttempt, reason: string, redial = false) =>
  Effect.gen(function* () {
    const attempts = yield* AttemptStore
    const requests = yield* RequestStore
    const jobs = yield* JobStore
    const metrics = yield* Metrics
    yield* inTransaction(
      Effect.gen(function* () {
        const deleted = yield* attempts.deleteUnplaced(attempt.id)
        if (Option.isNone(deleted)) return
        const moved = yield* requests.applyEvent(
          attempt.callbackId,
          "takeBack",
          { attemptOnNumber: attempt.attemptOnNumber - 1, currentAttemptId: null },
          { to: deleted.value.fromStatus, currentAttempt: attempt.id },
          { attemptId: attempt.id, reason }
        )
        yield* release(attempt.id)
        yield* releaseBudget(attempt.id)
        yield* jobs.releaseSlot(attempt.id)
        metrics.dialAttempts.inc({ outcome: "not_placed" })
        if (!redial || Option.isNone(moved)) return
        const business = yield* Effect.flatMap(BusinessStore, (businesses) => businesses.find(moved.value.businessId))
        if (Option.isNone(business)) return
        const at = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(REFUSED_RETRY))
        yield* enqueueDial(moved.value, yield* targetOfRequest(business.value, moved.value), at, attempt.id)
      })
    )
  })

/**
 * Puts a call attempt in the care of its lease and its watcher (both written once: doing it again changes
 * nothing): the lease holds the department's slot for the call, the watcher (`callback.watch`, first due
 * `firstLookAt`) asks Twilio about it when its reports go quiet and gives the slot back once it ended.
 * Inside the caller's transaction.
 */
const watchOver = (attemptId: string, slot: string, firstLookAt: Date, traceparent: string | undefined) =>
  Effect.gen(function* () {
    yield* Effect.flatMap(JobStore, (jobs) => jobs.holdSlot(slot, attemptId))
    yield* enqueue(CallbackWatch, { attemptId }, { runAt: firstLookAt, uniqueKey: `callback.watch:${attemptId}`, traceparent })
  })

/**
 * A dial job that finds its request already dialing was rescued or retried after it wrote its attempt.
 * It makes sure the call has its lease and watcher (a dial from before leases had neither), then asks
 * Twilio about the call at once: its reports may have been lost while the job was down (a crash, a
 * database outage). A second call is never placed for one attempt.
 */
const resume = (request: CallbackRequest, attemptId: string) =>
  Effect.gen(function* () {
    const attempts = yield* AttemptStore
    const { callStatusTimeout } = yield* CallbackConfig
    const firstLookAt = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(callStatusTimeout))
    // under the attempt's lock: a call that ends meanwhile (settle takes the same lock) gives its lease back after this
    const live = yield* inTransaction(
      Effect.gen(function* () {
        const locked = yield* attempts.lock(attemptId)
        if (Option.isNone(locked) || isEnded(locked.value.status)) return Option.none<CallAttempt>()
        yield* watchOver(attemptId, slotOf(request.businessId, request.department), firstLookAt, request.traceparent)
        return Option.some<CallAttempt>(locked.value)
      })
    )
    if (Option.isNone(live)) return
    yield* reconcile(live.value).pipe(
      Effect.catchAll((error) => Effect.logWarning(`could not reconcile call attempt ${attemptId} with Twilio; its watcher will ask again`, error))
    )
  })

/**
 * `callback.watch`: looks after one call in progress. While its status reports come, it waits; once they
 * have been quiet for CALL_STATUS_TIMEOUT, it asks Twilio (`reconcile`) and looks again a CALL_STATUS_TIMEOUT
 * later. When the attempt has ended (or was taken back), by whatever path, it makes sure the call's slot
 * is given back and ends. It never fails: a question that could not be asked is asked again later.
 */
export const watch = (attemptId: string) =>
  Effect.gen(function* () {
    const attempts = yield* AttemptStore
    const jobs = yield* JobStore
    const { callStatusTimeout } = yield* CallbackConfig
    const quiet = Duration.toMillis(callStatusTimeout)
    const seen = yield* attempts.findWithSilence(attemptId)
    if (Option.isNone(seen) || isEnded(seen.value.attempt.status)) return yield* Effect.asVoid(jobs.releaseSlot(attemptId))
    if (seen.value.silentMs < quiet) return yield* Snooze.for(Duration.millis(quiet - seen.value.silentMs), "the call is reporting", "schedule")
    yield* reconcile(seen.value.attempt)
    const after = yield* attempts.find(attemptId)
    if (Option.isNone(after) || isEnded(after.value.status)) return yield* Effect.asVoid(jobs.releaseSlot(attemptId))
    return yield* Snooze.for(callStatusTimeout, "the call goes on", "schedule")
  }).pipe(
    Effect.catchAll((error) =>
      error._tag === "Snooze"
        ? Effect.fail(error)
        : Effect.zipRight(
            Effect.logWarning(`could not look after call attempt ${attemptId}; will look again`, error),
            // not sooner than Twilio asked, when it turned the question away with a Retry-After
            Effect.fail(Snooze.for(error._tag === "TelephonyError" && error.retryAfter !== undefined ? Duration.max(WATCH_RETRY, error.retryAfter) : WATCH_RETRY, `could not look after the call: ${error.message}`))
          )
    ),
    Effect.withSpan("callback.watch", { attributes: { "attempt.id": attemptId } })
  )

export const WatchHandler = handle(CallbackWatch, (args) => watch(args.attemptId))

/**
 * Asks Twilio what became of an attempt: by its call sid when it has one,
 * otherwise (an ambiguous create) by every call from our number to its number,
 * matched on creation time and ownership (domain/callbacks/Reconciliation.ts).
 * A call found is adopted; a create that left no call is taken back and
 * dialed again shortly; when Twilio's answer cannot decide yet, nothing
 * changes and it asks again later.
 */
const reconcile = (attempt: CallAttempt) =>
  Effect.gen(function* () {
    const telephony = yield* Telephony
    if (attempt.callSid !== undefined) {
      const call = yield* telephony.fetchCall(attempt.callSid)
      if (call === undefined) return yield* settle(attempt.id, { status: "failed", error: "Twilio does not know this call" })
      return yield* settle(attempt.id, { status: call.status, callSid: call.sid })
    }
    const attempts = yield* AttemptStore
    const { requestTimeout } = yield* TwilioGateway
    const listing = yield* telephony.findCalls({ to: attempt.to })
    const owned = yield* attempts.ownedSids(listing.calls.map((call) => call.sid))
    const verdict = reconcileCreate({
      window: windowOf(attempt.startedAt, Duration.toMillis(requestTimeout)),
      calls: listing.calls,
      complete: listing.complete,
      owned,
      now: yield* Clock.currentTimeMillis
    })
    switch (verdict._tag) {
      case "Adopt": {
        const call = listing.calls.find((listed) => listed.sid === verdict.sid)
        yield* attempts.markPlaced(attempt.id, verdict.sid)
        return yield* settle(attempt.id, { status: call?.status ?? "queued", callSid: verdict.sid })
      }
      case "Undecided":
        return yield* Effect.logInfo(`call attempt ${attempt.id}: cannot reconcile the ambiguous create yet (${verdict.reason}); will ask again`)
      case "NotPlaced":
        yield* Effect.logInfo(`call attempt ${attempt.id}: Twilio has no call for the ambiguous create; it was never placed`)
        return yield* unplace(attempt, "Twilio has no call for the create whose answer was lost", true)
    }
  })

const begin = (request: CallbackRequest, target: Target) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const attempts = yield* AttemptStore
    const settings = yield* CallbackConfig
    const plan = planOf(target)
    const step = plan[Math.min(request.escalationLevel, plan.length - 1)] ?? plan[0]
    if (step === undefined) return { _tag: "Nothing" as const }
    const attemptId = randomUUID()
    const { requestTimeout } = yield* TwilioGateway
    const firstLookAt = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(settings.callStatusTimeout))
    return yield* inTransaction(
      Effect.gen(function* () {
        // one create without a definite answer per number at a time (see the header): the lock is held to the commit
        if (!(yield* attempts.mayCreateTo(step.phone, blockingHorizonMs(Duration.toMillis(requestTimeout))))) return { _tag: "Unresolved" as const }
        const allowed = yield* hit(`dial:${step.phone}`, settings.dialPerDestination, attemptId)
        if (!allowed.allowed) return { _tag: "Limited" as const, retryAfter: allowed.retryAfter }
        yield* spendOnDial(request.id, request.businessId, attemptId)
        // only from where this job saw the request: the number and attempt below were chosen from that
        const moved = yield* requests.applyEvent(
          request.id,
          "dial",
          { currentAttemptId: attemptId, attemptOnNumber: request.attemptOnNumber + 1, nextAttemptAt: null },
          { expected: request },
          { to: step.phone }
        )
        if (Option.isNone(moved)) return yield* Effect.fail(new Retryable({ message: "the request changed while a call was being set up" }))
        const attempt = yield* attempts.insert({
          id: attemptId,
          callbackId: request.id,
          level: request.escalationLevel,
          attemptOnNumber: request.attemptOnNumber + 1,
          to: step.phone,
          ringSeconds: step.ringSeconds,
          fromStatus: request.status,
          department: target.key
        })
        yield* watchOver(attemptId, target.slot, firstLookAt, request.traceparent)
        return { _tag: "Begun" as const, attempt }
      })
    ).pipe(Effect.catchTag("BudgetRefused", (refused) => Effect.succeed({ _tag: "Budget" as const, refused })))
  })

/**
 * `switchboard_verify_to_first_dial_seconds`: from the request's verification to `issuedAt`, when its first call's
 * create was sent; not for a request verified while its business was closed (`scheduledFor`, its opening, came later).
 */
const firstDialPlaced = (callbackId: string, issuedAt: number, scheduledFor: Date | undefined) =>
  Effect.gen(function* () {
    const verified = yield* Effect.flatMap(HistoryStore, (history) => history.verifiedAt(callbackId))
    if (verified === undefined || (scheduledFor !== undefined && scheduledFor.getTime() > verified.getTime() + 1_000)) return
    const metrics = yield* Metrics
    metrics.verifyToFirstDial.observe(Math.max(0, issuedAt - verified.getTime()) / 1000)
  }).pipe(Effect.catchAll((error) => Effect.logWarning(`verify-to-first-dial of ${callbackId} not measured: ${error.message}`)))

const place = (attempt: CallAttempt) =>
  Effect.gen(function* () {
    const attempts = yield* AttemptStore
    const telephony = yield* Telephony
    const base = yield* Effect.flatMap(TwilioGateway, (g) => g.publicBaseUrl)
    // the call's webhooks continue this attempt's trace: Twilio sends no traceparent, so it rides in their URLs (which it signs)
    const { exporting } = yield* TraceExport
    const traceparent = exporting ? yield* currentTraceparent : undefined
    const carried = traceparent === undefined ? "" : `?traceparent=${encodeURIComponent(traceparent)}`
    const placed = yield* telephony
      .placeCall({
        to: attempt.to,
        voiceUrl: `${base}/twilio/voice/${attempt.id}${carried}`,
        statusCallback: `${base}/twilio/status/call/${attempt.id}${carried}`,
        ringSeconds: attempt.ringSeconds
      })
      .pipe(Effect.either)
    if (Either.isRight(placed)) {
      yield* attempts.markPlaced(attempt.id, placed.right.sid)
      return { _tag: "Placed" as const }
    }
    const error = placed.left
    if (error._tag === "CircuitOpen") {
      yield* unplace(attempt, "the voice circuit is open")
      return { _tag: "CircuitOpen" as const, retryAfter: error.retryAfter }
    }
    if (error.kind === "permanent") {
      yield* settle(attempt.id, { status: "failed", error: `Twilio refused the call (${error.code ?? error.status}): ${error.message}`, exhaustNumber: true })
      return { _tag: "Refused" as const }
    }
    if (!error.ambiguous) {
      yield* unplace(attempt, `Twilio did not place the call: ${error.message}`)
      return { _tag: "NotPlaced" as const, message: error.message, retryAfter: error.retryAfter }
    }
    yield* attempts.markUnknown(attempt.id, `ambiguous create (${error.code ?? error.status}): ${error.message}`)
    yield* Effect.logWarning(`call attempt ${attempt.id}: Twilio's answer to the create was lost (${error.message}); reconciling, not re-sending`)
    return { _tag: "Ambiguous" as const }
  })

export const dial = (callbackId: string, generation?: number) =>
  Effect.gen(function* () {
    const requests = yield* RequestStore
    const telephony = yield* Telephony
    const request = yield* requests.find(callbackId)
    if (Option.isNone(request)) return
    // enqueued before an administrator's retry: the retry enqueued its own dial
    if (generation !== undefined && generation !== request.value.generation) return
    const { status } = request.value
    if (status === "dialing" || status === "connected") {
      if (request.value.currentAttemptId === undefined) return
      return yield* resume(request.value, request.value.currentAttemptId)
    }
    if (status !== "queued" && status !== "retry_scheduled" && status !== "escalated") return
    const business = yield* Effect.flatMap(BusinessStore, (businesses) => businesses.find(request.value.businessId))
    // not a silent return: the dial is discarded with the reason, where operators look for dead letters
    if (Option.isNone(business)) return yield* new Permanent({ message: `business ${request.value.businessId} of callback request ${callbackId} no longer exists: nothing to dial` })
    const now = new Date(yield* Clock.currentTimeMillis)
    const due = request.value.nextAttemptAt
    if (due !== undefined && due.getTime() > now.getTime() + 1_000) return yield* Snooze.for(Duration.millis(due.getTime() - now.getTime()), "not due yet", "schedule")
    const target = yield* targetOfRequest(business.value, request.value)
    const hours = closedUntil(target, now)
    if (hours.closed && hours.opensAt !== undefined) {
      yield* requests.setScheduledFor(callbackId, hours.opensAt)
      return yield* Snooze.for(Duration.millis(hours.opensAt.getTime() - now.getTime()), "the business is closed", "schedule")
    }
    const refusing = yield* telephony.refusingFor("voice")
    if (Duration.greaterThan(refusing, Duration.zero)) {
      yield* noticeOnce(request.value)
      return yield* Snooze.for(Duration.max(refusing, Duration.seconds(1)), "the voice circuit is open", "circuit")
    }
    const begun = yield* begin(request.value, target)
    if (begun._tag === "Nothing") return
    if (begun._tag === "Unresolved") return yield* Snooze.for(UNRESOLVED_RETRY, "another create to this number has no answer yet", "concurrency")
    if (begun._tag === "Limited") return yield* Snooze.for(Duration.max(begun.retryAfter, Duration.seconds(1)), "per-destination limit", "rate_limit")
    if (begun._tag === "Budget") return yield* deferForBudget(request.value.id, begun.refused)
    const issuedAt = yield* Clock.currentTimeMillis
    const placed = yield* place(begun.attempt)
    if (placed._tag === "Placed" && begun.attempt.n === 1) yield* firstDialPlaced(callbackId, issuedAt, request.value.scheduledFor)
    switch (placed._tag) {
      case "CircuitOpen":
        yield* noticeOnce(request.value)
        return yield* Snooze.for(Duration.max(placed.retryAfter, Duration.seconds(1)), "the voice circuit is open", "circuit")
      case "NotPlaced": {
        // refused for this deployment's configuration: the channel is stopped until its next probe, so wait for that;
        // turned away with a Retry-After (rate-limited): wait at least as long as Twilio asked
        const stopped = yield* telephony.refusingFor("voice")
        const asked = placed.retryAfter ?? Duration.zero
        const kind = Duration.greaterThan(stopped, Duration.zero) ? "circuit" : placed.retryAfter === undefined ? "other" : "rate_limit"
        return yield* Snooze.for(Duration.max(REFUSED_RETRY, Duration.max(stopped, asked)), `Twilio did not place the call: ${placed.message}`, kind)
      }
      default:
        // placed, refused for good (settled) or its answer lost: the call's lease and watcher take it from here
        return
    }
  }).pipe(
    asJobFailure,
    Effect.withSpan("callback.dial", { attributes: { "callback.id": callbackId } })
  )

export const DialHandler = handle(CallbackDial, (args) => dial(args.callbackId, args.generation))
