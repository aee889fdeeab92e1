/**
 * Retry backoff: exponential with full jitter and a cap.
 *
 * The n-th retry (n = 0 for the first) waits a uniformly random delay in
 * `[0, min(capMs, baseMs * 2^n)]`. Full jitter spreads a burst of failures
 * over the whole window instead of re-synchronising them.
 */
import * as Duration from "effect/Duration"

export interface BackoffPolicy {
  readonly baseMs: number
  readonly capMs: number
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, capMs: 10 * 60_000 }

export const backoff = (base: Duration.DurationInput, cap: Duration.DurationInput): BackoffPolicy => ({
  baseMs: Duration.toMillis(base),
  capMs: Duration.toMillis(cap)
})

/** The largest delay the n-th retry may wait. */
export const ceilingMs = (retry: number, policy: BackoffPolicy): number =>
  Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry))

/**
 * The delay before the n-th retry; `unit` is a uniform random number in `[0, 1)`
 * supplied by the caller, which keeps this function pure.
 */
export const retryDelayMs = (retry: number, policy: BackoffPolicy, unit: number): number =>
  Math.floor(ceilingMs(retry, policy) * Math.min(Math.max(unit, 0), 1))

/** When the job runs next, given the attempt that just failed (1-based) and the time it failed. */
export const nextRunAt = (attempt: number, now: Date, policy: BackoffPolicy, unit: number): Date =>
  new Date(now.getTime() + retryDelayMs(attempt - 1, policy, unit))
