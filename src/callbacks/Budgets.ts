/**
 * Budgets and the phone lockout as the use cases apply them
 * (docs/callbacks.md "Budgets and lockout").
 *
 * At the API, a text the platform is about to promise (the code of a create or
 * a resend) and the first call (at verify) are counted last in the use case's
 * transaction. A spent budget fails that transaction with `BudgetRefused`, so
 * nothing is created or counted; `refusedByBudget`, around the transaction,
 * turns it into a 429 and records the exhaustion. At job time a dial or a text
 * that finds a budget spent snoozes until it has room (no attempt spent), and
 * the request's history says so once per episode.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Snooze } from "../../domain/jobs/JobErrors.ts"
import { type BudgetChannel, type BudgetDecision, beginWait, bucketsFor, endWait, type Exhaustion, handOn, noteExhausted, take, takeUnlessLocked } from "../../infra/callbacks/Budgets.ts"
import { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import { HistoryStore } from "../../infra/callbacks/HistoryStore.ts"
import { lockedUntil, recordFailure } from "../../infra/callbacks/Lockout.ts"
import { inTransaction, type SqlConnection } from "../../infra/db/Transaction.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { RateLimited } from "../Failures.ts"

/** A budget was spent, inside a transaction that must roll back. */
export class BudgetRefused extends Data.TaggedError("BudgetRefused")<{ readonly exhaustion: Exhaustion; readonly retryAfter: Duration.Duration }> {}

const seconds = (d: Duration.Duration) => Math.max(1, Math.ceil(Duration.toSeconds(d)))

/** Counts one text or call of `businessId` (tagged `ref`) in every budget, or fails with `BudgetRefused`. */
export const spend = (channel: BudgetChannel, businessId: string, during: string, ref?: string) =>
  Effect.gen(function* () {
    const { budgets } = yield* CallbackConfig
    return yield* refusedUnlessAllowed(yield* take(bucketsFor(budgets, channel, businessId), ref), channel, businessId, during)
  })

/** {@link refuseLocked} and then {@link spend}, in one statement (a lockout refuses first). */
export const spendUnlessLocked = (phone: string, channel: BudgetChannel, businessId: string, during: string, ref?: string) =>
  Effect.gen(function* () {
    const { budgets } = yield* CallbackConfig
    const { decision, lockedUntil } = yield* takeUnlessLocked(phone, bucketsFor(budgets, channel, businessId), ref)
    if (Option.isSome(lockedUntil)) return yield* lockedOut(lockedUntil.value)
    return yield* refusedUnlessAllowed(decision, channel, businessId, during)
  })

const refusedUnlessAllowed = (decision: BudgetDecision, channel: BudgetChannel, businessId: string, during: string) =>
  Effect.gen(function* () {
    if (decision.allowed) return
    const retryAt = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(decision.retryAfter))
    return yield* new BudgetRefused({ exhaustion: { bucket: decision.bucket, channel, businessId, retryAt, during }, retryAfter: decision.retryAfter })
  })

const detailOf = (refused: BudgetRefused): string => {
  const { bucket, channel, during } = refused.exhaustion
  const who = bucket.scope === "business" ? "this business" : "the service"
  if (channel === "call" && during === "verify") return `the code is right, but ${who} cannot schedule more calls right now; verify again later (with a new code once this one expires)`
  return `${who} cannot take more callback requests right now; try again later`
}

/** The metric and the bucket's operational event (once per episode); a failure to record is logged, never answered. */
const countRefusal = (refused: BudgetRefused) =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const { bucket, channel } = refused.exhaustion
    metrics.budgetExhausted.inc({ scope: bucket.scope, channel })
    yield* noteExhausted(refused.exhaustion).pipe(Effect.catchAll((error) => Effect.logWarning("could not record a budget's exhaustion", error)))
  })

const isRefusal = (error: unknown): error is BudgetRefused => (error as { readonly _tag?: unknown } | null)?._tag === "BudgetRefused"

/** Around a use case's transaction: a budget's refusal becomes a 429 `rate-limited` (`reason: "budget"`), counted and recorded. */
export const refusedByBudget = <A, E, R>(transaction: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, BudgetRefused> | RateLimited, R | Metrics | SqlConnection> =>
  Effect.catchIf(transaction as Effect.Effect<A, E | BudgetRefused, R>, isRefusal, (refused) =>
    Effect.zipRight(
      countRefusal(refused),
      Effect.fail(
        new RateLimited({
          detail: detailOf(refused),
          retryAfterSeconds: seconds(refused.retryAfter),
          extra: { reason: "budget", scope: refused.exhaustion.bucket.scope, channel: refused.exhaustion.channel }
        })
      )
    )
  )

/**
 * A dial's call: the one promised at verify is handed on to the attempt (counted then), any other is counted now;
 * `BudgetRefused` when a budget is spent. Either way a wait for the budget is over.
 */
export const spendOnDial = (callbackId: string, businessId: string, attemptId: string) =>
  Effect.gen(function* () {
    if (!(yield* handOn(callbackId, attemptId, "call"))) yield* spend("call", businessId, "callback.dial", attemptId)
    yield* endWait(callbackId, "call")
  })

/** A notice or fallback text (tagged with its message id); `BudgetRefused` when a budget is spent. */
export const spendOnText = (callbackId: string, businessId: string, messageId: string) =>
  Effect.gen(function* () {
    yield* spend("sms", businessId, "callback.sms_fallback", messageId)
    yield* endWait(callbackId, "sms")
  })

/**
 * A job that found a budget spent: counted, the request's history told once per episode
 * (`callback.budget_exhausted`), the bucket's event once per episode; then it snoozes until the budget has room.
 */
export const deferForBudget = (callbackId: string, refused: BudgetRefused) =>
  Effect.gen(function* () {
    const history = yield* HistoryStore
    const { channel, bucket, retryAt } = refused.exhaustion
    yield* countRefusal(refused)
    yield* inTransaction(
      Effect.gen(function* () {
        if (yield* beginWait(callbackId, channel)) yield* history.append(callbackId, "callback.budget_exhausted", { channel, scope: bucket.scope, retryAt })
      })
    )
    return yield* Snooze.for(Duration.max(refused.retryAfter, Duration.seconds(1)), `the ${bucket.scope}'s ${channel} budget is spent`, "budget")
  })

/** Refuses (429) while `phone` is locked after failed verifications. */
export const refuseLocked = (phone: string) =>
  Effect.flatMap(lockedUntil(phone), Option.match({ onNone: () => Effect.void, onSome: lockedOut }))

const lockedOut = (until: Date) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.fail(
      new RateLimited({
        detail: "this phone number is blocked for a while after repeated failed verifications; try again later",
        retryAfterSeconds: seconds(Duration.millis(until.getTime() - now)),
        extra: { reason: "lockout" }
      })
    )
  )

/** A request's code was spent on wrong entries: counted for its phone, which may now be locked (metric and event). */
export const verificationFailed = (failure: { readonly phone: string; readonly callbackId: string; readonly businessId: string }) =>
  Effect.gen(function* () {
    const { lockout } = yield* CallbackConfig
    const locked = yield* recordFailure(failure, lockout)
    if (Option.isNone(locked)) return
    const metrics = yield* Metrics
    metrics.phoneLockouts.inc()
    yield* Effect.logInfo(`a phone was locked until ${locked.value.toISOString()} after failed verifications (the last on callback ${failure.callbackId})`)
  })
