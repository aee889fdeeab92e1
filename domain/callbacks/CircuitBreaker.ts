/**
 * A circuit breaker per Twilio channel (voice, sms), as pure state.
 *
 * ```
 *   closed ──(failureThreshold consecutive failures)──► open
 *   open ──(openFor elapsed: the next request is a probe)──► half_open
 *   half_open ──probe succeeds──► closed        half_open ──probe fails──► open (again for openFor)
 * ```
 *
 * While open, requests are refused without reaching Twilio, so an outage costs
 * a bounded number of requests; only one probe at a time passes in half-open.
 * Only failures that say Twilio is unwell count (5xx, 429, network); a
 * permanent error about the request itself (an invalid number) is a success
 * for the breaker.
 */
export type CircuitStatus = "closed" | "open" | "half_open"

export interface BreakerPolicy {
  readonly failureThreshold: number
  readonly openForMillis: number
}

export const defaultBreakerPolicy: BreakerPolicy = { failureThreshold: 5, openForMillis: 30_000 }

export interface Breaker {
  readonly status: CircuitStatus
  readonly consecutiveFailures: number
  /** When it opened (open), so when a probe may go. */
  readonly openedAt: number | undefined
  /** A probe is out (half-open). */
  readonly probing: boolean
}

export const closedBreaker: Breaker = { status: "closed", consecutiveFailures: 0, openedAt: undefined, probing: false }

/** Whether a request may go now; the breaker as it stands after deciding (a probe marks half-open). */
export const admit = (breaker: Breaker, now: number, policy = defaultBreakerPolicy): { readonly allowed: boolean; readonly breaker: Breaker } => {
  switch (breaker.status) {
    case "closed":
      return { allowed: true, breaker }
    case "open":
      return (breaker.openedAt ?? now) + policy.openForMillis <= now
        ? { allowed: true, breaker: { ...breaker, status: "half_open", probing: true } }
        : { allowed: false, breaker }
    case "half_open":
      return breaker.probing ? { allowed: false, breaker } : { allowed: true, breaker: { ...breaker, probing: true } }
  }
}

/** The breaker after a request that reached Twilio ended: `healthy` unless Twilio itself failed. */
export const record = (breaker: Breaker, healthy: boolean, now: number, policy = defaultBreakerPolicy): Breaker => {
  if (healthy) return closedBreaker
  if (breaker.status === "half_open") return { status: "open", consecutiveFailures: breaker.consecutiveFailures + 1, openedAt: now, probing: false }
  const failures = breaker.consecutiveFailures + 1
  return failures >= policy.failureThreshold
    ? { status: "open", consecutiveFailures: failures, openedAt: now, probing: false }
    : { ...breaker, consecutiveFailures: failures }
}

/** Milliseconds until an open breaker lets a probe through (0 when it would now). */
export const retryAfter = (breaker: Breaker, now: number, policy = defaultBreakerPolicy): number =>
  breaker.status === "open" ? Math.max(0, (breaker.openedAt ?? now) + policy.openForMillis - now) : 0
