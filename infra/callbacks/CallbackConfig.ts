/**
 * The callback platform's policies, read once from the environment and
 * validated at start-up. Every limit and timing of API.md is here, so tests
 * (and operators) can shorten or widen them.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type { BreakerPolicy } from "../../domain/callbacks/CircuitBreaker.ts"
import type { CallbackRetryPolicy } from "../../domain/callbacks/EscalationPlan.ts"
import type { VerificationPolicy } from "../../domain/callbacks/Verification.ts"
import { duration, durationWithin, integer, parseDuration } from "../config/Env.ts"

/** At most `limit` events per `window`. */
export interface RateLimit {
  readonly limit: number
  readonly window: Duration.Duration
}

export const parseRateLimit = (text: string): Either.Either<RateLimit, string> => {
  const [count = "", window = "", ...rest] = text.split("/")
  const limit = Number(count.trim())
  if (rest.length > 0 || !/^\d+$/.test(count.trim()) || limit < 1 || limit > 1_000_000) {
    return Either.left(`"${text}" is not a limit such as 3/1h (count/window)`)
  }
  return Either.flatMap(parseDuration(window), (d) => {
    const problem = durationWithin(d, "1 second", "366 days")
    return problem === undefined ? Either.right({ limit, window: d }) : Either.left(`the window of "${text}" ${problem}`)
  })
}

const rateLimit = (name: string, fallback: string, description: string): Config.Config<RateLimit> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => Either.mapLeft(parseRateLimit(text), (message) => ConfigError.InvalidData([name], `${name}: ${message}`))),
    Config.withDescription(description)
  )

/** Caps over distinct windows, `200/1h,1000/1d`; `off` (or nothing) for none. */
export const parseRateLimits = (text: string): Either.Either<ReadonlyArray<RateLimit>, string> => {
  const trimmed = text.trim()
  if (trimmed === "" || trimmed.toLowerCase() === "off") return Either.right([])
  return Either.flatMap(Either.all(trimmed.split(",").map((part) => parseRateLimit(part.trim()))), (limits) => {
    const windows = limits.map((l) => Duration.toMillis(l.window))
    return new Set(windows).size === windows.length ? Either.right(limits) : Either.left(`"${text}" has two caps over one window`)
  })
}

const rateLimits = (name: string, fallback: string, description: string): Config.Config<ReadonlyArray<RateLimit>> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => Either.mapLeft(parseRateLimits(text), (message) => ConfigError.InvalidData([name], `${name}: ${message}`))),
    Config.withDescription(description)
  )

/** Per business and account-wide caps of one channel (docs/callbacks.md "Budgets and lockout"). */
const budget = (prefix: string, what: string, business: string, account: string) =>
  Config.all({
    business: rateLimits(`${prefix}_PER_BUSINESS`, business, `${what} per business, count/window comma-separated (sliding), or off`),
    account: rateLimits(`${prefix}_ACCOUNT`, account, `${what} of all businesses together, count/window comma-separated (sliding), or off`)
  })

const delays = Config.string("CALLBACK_RETRY_DELAYS").pipe(
  Config.withDefault("1m,5m,15m"),
  Config.mapOrFail((text) =>
    Either.mapLeft(
      Either.flatMap(Either.all(text.split(",").map((part) => parseDuration(part))), (ds) => {
        const problem = ds.length > 20 ? "at most 20 delays" : ds.map((d) => durationWithin(d, 0, "7 days")).find((p) => p !== undefined)
        return problem === undefined ? Either.right(ds) : Either.left(`each delay ${problem}`)
      }),
      (message) => ConfigError.InvalidData(["CALLBACK_RETRY_DELAYS"], `CALLBACK_RETRY_DELAYS: ${message}`)
    )
  ),
  Config.withDescription("waits after the 1st, 2nd, ... unanswered attempt on a number (the last repeats)")
)

const fromEnvironment = Config.all({
  verification: Config.all({
    codeLifetime: duration("VERIFICATION_CODE_TTL", "10 minutes", "how long a verification code is valid", { min: "1 second", max: "1 day" }),
    maxChecks: integer("VERIFICATION_MAX_CHECKS", 5, 1, 100, "wrong codes allowed per code before it is void"),
    maxSends: integer("VERIFICATION_MAX_SENDS", 3, 1, 100, "codes sent (first and resends) per request per VERIFICATION_SEND_WINDOW"),
    sendWindow: duration("VERIFICATION_SEND_WINDOW", "10 minutes", "the window of VERIFICATION_MAX_SENDS", { min: "1 second", max: "1 day" })
  }),
  retry: Config.all({
    attemptsPerNumber: integer("CALLBACK_ATTEMPTS_PER_NUMBER", 3, 1, 100, "calls to one number of the plan before escalating"),
    delays
  }),
  breaker: Config.all({
    failureThreshold: integer("CIRCUIT_FAILURE_THRESHOLD", 5, 1, 1000, "consecutive Twilio failures that open a channel's circuit"),
    openFor: duration("CIRCUIT_OPEN_FOR", "30 seconds", "how long an open circuit refuses requests before a probe", { min: "100 millis", max: "1 hour" })
  }),
  createPerPhone: rateLimit("RATE_LIMIT_CREATE_PER_PHONE", "3/1h", "accepted callback requests per visitor phone"),
  createPerIp: rateLimit("RATE_LIMIT_CREATE_PER_IP", "20/10m", "accepted callback requests per client IP"),
  verifyPerIp: rateLimit("RATE_LIMIT_VERIFY_PER_IP", "30/10m", "verification checks and resends per client IP"),
  dialPerDestination: rateLimit("DIAL_LIMIT_PER_DESTINATION", "3/15m", "calls placed to one number (checked once the business's slot is held)"),
  callStatusTimeout: duration("CALL_STATUS_TIMEOUT", "60 seconds", "how long a call's status may stay unchanged before its watcher asks Twilio for it", { min: "1 second", max: "1 hour" }),
  retention: duration("CALLBACK_RETENTION", "90 days", "finished callback requests are deleted after this", { min: "1 second", max: "3660 days" }),
  budgets: Config.all({
    sms: budget("BUDGET_SMS", "texts (codes at create and resend, notices and fallbacks when sent)", "200/1h,1000/1d", "2000/1h,10000/1d"),
    call: budget("BUDGET_CALLS", "calls (the first at verify, every dial when placed)", "100/1h,500/1d", "1000/1h,5000/1d")
  }),
  lockout: Config.all({
    failures: rateLimit("VERIFY_LOCKOUT", "3/24h", "requests of one phone whose code was spent on wrong entries, within the window, that lock the phone"),
    lockFor: duration("VERIFY_LOCKOUT_DURATION", "24 hours", "how long a locked phone is refused (creates for any business, codes, resends)", { min: "1 second", max: "366 days" })
  }),
  trustProxy: integer("TRUST_PROXY", 0, 0, 10, "proxy hops in front of the app whose X-Forwarded-For is trusted (0: the socket address)")
})

export type CallbackSettings = Config.Config.Success<typeof fromEnvironment>

export const breakerPolicyOf = (settings: CallbackSettings): BreakerPolicy => ({
  failureThreshold: settings.breaker.failureThreshold,
  openForMillis: Duration.toMillis(settings.breaker.openFor)
})

export const retryPolicyOf = (settings: CallbackSettings): CallbackRetryPolicy => settings.retry
export const verificationPolicyOf = (settings: CallbackSettings): VerificationPolicy => settings.verification

export class CallbackConfig extends Context.Tag("switchboard/infra/CallbackConfig")<CallbackConfig, CallbackSettings>() {}

export const CallbackConfigLive = Layer.effect(CallbackConfig, fromEnvironment)
