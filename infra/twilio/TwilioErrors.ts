/**
 * What a failed Twilio request means for the caller, from the error the twilio
 * SDK raised.
 *
 * - `permanent`: Twilio refused this request for what it asked (an invalid,
 *   unreachable or unsubscribed number, a body it will not send). Retrying it
 *   cannot help; other requests are unaffected.
 * - `retryable`: Twilio or the network is unwell (429, 5xx, a connection that
 *   failed), or this deployment cannot use Twilio as configured (wrong
 *   credentials, an inactive account, a `From` or callback URL Twilio
 *   rejects). Every request would fail alike, so these count against the
 *   channel's circuit and are tried again later, once fixed, instead of
 *   failing each callback for good.
 * - `ambiguous` (with retryable): the request may have reached Twilio and done
 *   its work (a 500 or other 5xx after sending, a timeout, a reset connection),
 *   so a create must be reconciled before it is repeated, never blindly
 *   re-POSTed. A 429 or a 503 is certain: Twilio turned the request away
 *   (rate-limited, or not accepting requests) before doing anything with it.
 * - `retryAfter`: how long Twilio asked us to wait before asking again (the
 *   `Retry-After` of a 429 or 503, kept by RequestClient.ts), when it said.
 */
import * as Duration from "effect/Duration"

export type TwilioFailureKind = "permanent" | "retryable"

export interface TwilioFailure {
  readonly kind: TwilioFailureKind
  /** The request may have taken effect at Twilio. */
  readonly ambiguous: boolean
  /** Twilio's error code (`21211`...), or the network error's code (`ECONNRESET`...). */
  readonly code: string | undefined
  readonly status: number | undefined
  readonly message: string
  /** The wait Twilio asked for (a 429's or 503's `Retry-After`); absent when it named none. */
  readonly retryAfter?: Duration.Duration | undefined
}

/**
 * 4xx codes about this deployment rather than the request: authentication (20003), an inactive
 * account (20005), a resource of another account (20404), a callback URL Twilio rejects (21205,
 * 21609), a `From` that is invalid, unverified or not ours (21210, 21212, 21606, 21659).
 */
const CONFIGURATION: ReadonlySet<number> = new Set([20003, 20005, 20008, 20404, 21205, 21209, 21210, 21212, 21606, 21609, 21659])
const CONFIGURATION_STATUSES: ReadonlySet<number> = new Set([401, 403, 404])

/** Network errors raised before the request could be sent: nothing reached Twilio. */
const NOT_SENT: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

export const classify = (error: unknown): TwilioFailure => {
  const e = error as { status?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown }; retryAfterSeconds?: unknown }
  const message = typeof e.message === "string" ? e.message : String(error)
  if (typeof e.status === "number") {
    const code = typeof e.code === "number" ? e.code : undefined
    const retryAfter = typeof e.retryAfterSeconds === "number" ? { retryAfter: Duration.seconds(e.retryAfterSeconds) } : {}
    const base = { code: code === undefined ? undefined : String(code), status: e.status, message, ...retryAfter }
    // turned away before it was accepted: nothing was done, so a repeat cannot duplicate
    if (e.status === 429 || e.status === 503 || code === 20429) return { ...base, kind: "retryable", ambiguous: false }
    if (e.status >= 500) return { ...base, kind: "retryable", ambiguous: true }
    // refused for how this deployment talks to Twilio: nothing was done, and every request would fail alike
    if (CONFIGURATION_STATUSES.has(e.status) || (code !== undefined && CONFIGURATION.has(code))) return { ...base, kind: "retryable", ambiguous: false }
    // any other 4xx: this request itself is refused, as with 21211, 21214, 21216, 13224, 21408, 21610
    // and 21614 (invalid, unreachable or unsubscribed numbers): repeating it cannot help
    return { ...base, kind: "permanent", ambiguous: false }
  }
  const network = typeof e.code === "string" ? e.code : typeof e.cause?.code === "string" ? e.cause.code : undefined
  return { kind: "retryable", ambiguous: network === undefined || !NOT_SENT.has(network), code: network, status: undefined, message }
}

/**
 * What a refusal says is wrong with this deployment, for every request alike (not with the one request):
 * its credentials (20003, a 401), an inactive account (20005, 10001), its `From` number (21210, 21212,
 * 21606, 21659) or the webhook URLs it gives Twilio (21205, 21609). None for anything else, including a
 * 404 of one resource (20404), which a lookup may meet for good reasons.
 */
export type ConfigurationReason = "twilio_auth" | "twilio_account_suspended" | "twilio_from_number" | "twilio_callback_url"
export const ConfigurationReasons: ReadonlyArray<ConfigurationReason> = ["twilio_auth", "twilio_account_suspended", "twilio_from_number", "twilio_callback_url"]

const REASON_OF_CODE: ReadonlyMap<number, ConfigurationReason> = new Map([
  [20003, "twilio_auth"],
  [20005, "twilio_account_suspended"],
  [10001, "twilio_account_suspended"],
  [21210, "twilio_from_number"],
  [21212, "twilio_from_number"],
  [21606, "twilio_from_number"],
  [21659, "twilio_from_number"],
  [21205, "twilio_callback_url"],
  [21609, "twilio_callback_url"]
])

export const configurationReason = (failure: TwilioFailure): ConfigurationReason | undefined => {
  const code = failure.code === undefined ? undefined : Number(failure.code)
  if (code !== undefined && REASON_OF_CODE.has(code)) return REASON_OF_CODE.get(code)
  return failure.status === 401 && (code === undefined || Number.isNaN(code)) ? "twilio_auth" : undefined
}

/** What an operator reads about a reason: what Twilio refused, and which setting to look at. */
export const REASON_TEXT: Readonly<Record<ConfigurationReason, string>> = {
  twilio_auth: "Twilio refused this deployment's credentials (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
  twilio_account_suspended: "the Twilio account is not active (suspended, or out of funds)",
  twilio_from_number: "Twilio refused TWILIO_FROM as the sender (not a number of this account, or not able to send texts)",
  twilio_callback_url: "Twilio refused the webhook URLs it was given (check PUBLIC_BASE_URL)"
}

/** Whether the failure says Twilio (or the way to it) is unwell: what a circuit breaker counts. */
export const isTwilioUnwell = (failure: TwilioFailure): boolean => failure.kind === "retryable"

/**
 * What the `ErrorCode` of a final status callback says about the number (a
 * call or text that failed after Twilio accepted it):
 *
 * - `permanent`: the number itself is bad (invalid, unreachable for good, not
 *   a mobile, blocked or unsubscribed) or in a region this account may not
 *   reach (as `classify` treats 21408); calling or texting it again cannot help.
 * - `transient`: anything else, known or not (a handset switched off, a
 *   carrier hiccup, this account's permissions): the usual retries apply.
 */
export type ReportedErrorKind = "permanent" | "transient"

export interface ReportedError {
  readonly code: string
  readonly kind: ReportedErrorKind
  /** What Twilio's code means, when this table knows it. */
  readonly meaning: string | undefined
}

const REPORTED: ReadonlyMap<string, readonly [ReportedErrorKind, string]> = new Map([
  ["13223", ["permanent", "invalid phone number format"]],
  ["13224", ["permanent", "invalid phone number"]],
  ["13225", ["permanent", "forbidden phone number"]],
  ["13226", ["permanent", "invalid country code"]],
  ["13227", ["permanent", "calls to this country are not permitted"]],
  ["21211", ["permanent", "invalid 'To' phone number"]],
  ["21214", ["permanent", "'To' phone number cannot be reached"]],
  ["21216", ["permanent", "call blocked by Twilio's blocklist"]],
  ["21217", ["permanent", "phone number does not appear to be valid"]],
  ["21408", ["permanent", "sending to this region is not enabled"]],
  ["21610", ["permanent", "the recipient unsubscribed"]],
  ["21612", ["permanent", "'To' phone number is not reachable by SMS"]],
  ["21614", ["permanent", "'To' number is not a valid mobile number"]],
  ["30003", ["transient", "unreachable destination handset"]],
  ["30004", ["permanent", "message blocked"]],
  ["30005", ["permanent", "unknown destination handset"]],
  ["30006", ["permanent", "landline or unreachable carrier"]],
  ["30007", ["transient", "message filtered by the carrier"]],
  ["30008", ["transient", "unknown error"]]
])

/** The `ErrorCode` of a status callback, classified; an unknown code is transient. */
export const classifyReported = (code: string): ReportedError => {
  const known = REPORTED.get(code)
  return { code, kind: known?.[0] ?? "transient", meaning: known?.[1] }
}

/** As stored and shown: `Twilio error 13224: invalid phone number`, or `Twilio error N` for a code this table does not know. */
export const reportedErrorText = (error: ReportedError): string => `Twilio error ${error.code}${error.meaning === undefined ? "" : `: ${error.meaning}`}`
