/**
 * The twilio SDK's RequestClient, keeping what the SDK's errors drop: the
 * `Retry-After` of a refusal. The SDK builds its `RestException` from the
 * status and the body alone, so a 429 ("too many requests") or a 503 would
 * reach us without the time Twilio asked us to wait. For such an answer with
 * a `Retry-After`, this client raises the `RestException` itself, with
 * `retryAfterSeconds` set (read by TwilioErrors.classify); every other answer
 * goes to the SDK untouched.
 */
import twilio from "twilio"
import type BaseRequestClient from "twilio/lib/base/RequestClient.js"

/** The most a `Retry-After` is taken at: one hour (a longer wait is read as an hour, and asked again then). */
export const RETRY_AFTER_MAX_SECONDS = 3600

/**
 * A `Retry-After` value (delay-seconds, or an HTTP-date) as whole seconds from `now` (ms since the
 * epoch), between 0 and RETRY_AFTER_MAX_SECONDS; undefined when absent or unreadable.
 */
export const retryAfterSeconds = (value: unknown, now: number): number | undefined => {
  const text = Array.isArray(value) ? value[0] : value
  if (typeof text !== "string" || text.trim() === "") return undefined
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), RETRY_AFTER_MAX_SECONDS)
  const at = Date.parse(trimmed)
  if (Number.isNaN(at) || !/[a-z]/i.test(trimmed)) return undefined
  return Math.min(Math.max(0, Math.ceil((at - now) / 1000)), RETRY_AFTER_MAX_SECONDS)
}

/** The refusals whose `Retry-After` is kept: rate-limited, and not accepting requests. */
const REFUSALS: ReadonlySet<number> = new Set([429, 503])

const header = (headers: unknown, name: string): unknown => {
  if (headers === null || typeof headers !== "object") return undefined
  const get = (headers as { get?: unknown }).get
  if (typeof get === "function") return (get as (n: string) => unknown).call(headers, name)
  const entry = Object.entries(headers as Record<string, unknown>).find(([key]) => key.toLowerCase() === name)
  return entry?.[1]
}

/** Twilio's `RestException` for `response`, with a message even for a body of another shape (RFC 9457's). */
const refusal = (response: { statusCode: number; body: unknown; headers: unknown }, retryAfter: number) => {
  const error = new twilio.RestException(response)
  if (typeof error.message !== "string") {
    let body: { detail?: unknown; title?: unknown } | undefined
    try {
      body = typeof response.body === "string" ? (JSON.parse(response.body) as typeof body) : (response.body as typeof body)
    } catch {
      body = undefined
    }
    const text = body?.detail ?? body?.title
    error.message = typeof text === "string" ? text : `[HTTP ${response.statusCode}] Failed to execute request`
  }
  return Object.assign(error, { retryAfterSeconds: retryAfter })
}

export class TwilioRequestClient extends twilio.RequestClient {
  override async request<TData>(opts: BaseRequestClient.RequestOptions<TData>) {
    const response = await super.request(opts)
    if (!REFUSALS.has(response.statusCode)) return response
    const seconds = retryAfterSeconds(header(response.headers, "retry-after"), Date.now())
    if (seconds === undefined) return response
    throw refusal(response, seconds)
  }
}
