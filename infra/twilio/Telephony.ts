/**
 * Every outbound Twilio request goes through here: `placeCall` and `sendSms`
 * over the real twilio SDK (pointed at Twilio or at the simulator), and
 * `fetchCall` and `findCalls`, which reconcile an ambiguous `placeCall` (was
 * the call created or not?) instead of placing it again.
 *
 * Each channel (voice, sms) has a circuit breaker (domain/callbacks/
 * CircuitBreaker.ts): while it is open a request fails at once with
 * `CircuitOpen` and never reaches Twilio. A failed request fails with
 * `TelephonyError`, classified (TwilioErrors.ts) as permanent or retryable,
 * and marked `ambiguous` when it may have taken effect: the caller reconciles
 * such a call, it does not re-send it. Every request is a client span and is
 * counted in `switchboard_twilio_requests_total{op,outcome}`.
 *
 * A refusal that says the deployment itself is misconfigured (TwilioErrors.ts
 * `configurationReason`: wrong credentials, an inactive account, a `From` or
 * webhook URL Twilio rejects) stops the channel at once, for every business:
 * its requests fail with `CircuitOpen` without reaching Twilio, `refusingFor`
 * says how long (so dials and texts snooze rather than retry hot),
 * `switchboard_configuration_error{reason}` is 1 and `/healthz` fails naming
 * the reason. Every TWILIO_CONFIGURATION_PROBE one request goes through as a probe:
 * an answer clears it, the same refusal keeps it. Credentials and an inactive
 * account stop both channels; a `From` or URL refusal the channel it came on.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Twilio } from "twilio"
import type { CallInstance } from "twilio/lib/rest/api/v2010/account/call.js"
import { admit, type Breaker, type BreakerPolicy, type CircuitStatus, closedBreaker, defaultBreakerPolicy, record, retryAfter } from "../../domain/callbacks/CircuitBreaker.ts"
import type { Metrics } from "../observability/Metrics.ts"
import { classify, type ConfigurationReason, ConfigurationReasons, configurationReason, isTwilioUnwell, REASON_TEXT, type TwilioFailure } from "./TwilioErrors.ts"

export type Channel = "voice" | "sms"

export class TelephonyError extends Data.TaggedError("TelephonyError")<TwilioFailure & { readonly channel: Channel }> {}

export class CircuitOpen extends Data.TaggedError("CircuitOpen")<{ readonly channel: Channel; readonly retryAfter: Duration.Duration }> {
  override get message(): string {
    return `the ${this.channel} circuit is open; retry in ${Duration.format(this.retryAfter)}`
  }
}

export interface CallRequest {
  readonly to: string
  /** TwiML URL Twilio fetches when the call is answered. */
  readonly voiceUrl: string
  readonly statusCallback: string
  readonly ringSeconds: number
}

export interface SmsRequest {
  readonly to: string
  /** The number it comes from (one of the gateway's SMS senders); the options' `from` when absent. */
  readonly from?: string | undefined
  readonly body: string
  readonly statusCallback?: string | undefined
}

/** A call as Twilio knows it. */
export interface CallInfo {
  readonly sid: string
  readonly to: string
  readonly status: string
  readonly createdAt: Date | undefined
  readonly durationSeconds: number | undefined
}

export interface CallQuery {
  readonly to: string
  /** At most this many calls are read (default 2000); `complete` says whether that was all of them. */
  readonly limit?: number | undefined
}

/** Calls from our number to a number, whatever their status or whether they have started. */
export interface CallListing {
  readonly calls: ReadonlyArray<CallInfo>
  /** False when there were more calls than `limit`. */
  readonly complete: boolean
}

/** A channel stopped because Twilio refuses this deployment's configuration. */
export interface Misconfiguration {
  readonly channel: Channel
  readonly reason: ConfigurationReason
  /** Twilio's code and message, as refused. */
  readonly code: string | undefined
  readonly message: string
  readonly since: Date
}

/** How long a misconfigured channel waits, by default, before it lets one request through to see whether it was fixed. */
export const CONFIGURATION_PROBE = Duration.seconds(60)

export interface TelephonyService {
  readonly placeCall: (request: CallRequest) => Effect.Effect<{ readonly sid: string }, TelephonyError | CircuitOpen>
  /** The call with this SID; undefined when Twilio does not know it (404). */
  readonly fetchCall: (sid: string) => Effect.Effect<CallInfo | undefined, TelephonyError | CircuitOpen>
  /**
   * Calls from our number to `to`, queued ones included: filtered by `To` and `From` only, since Twilio's
   * `StartTime` filters leave out a call that has not started. The caller matches on `createdAt`.
   */
  readonly findCalls: (query: CallQuery) => Effect.Effect<CallListing, TelephonyError | CircuitOpen>
  readonly sendSms: (request: SmsRequest) => Effect.Effect<{ readonly sid: string }, TelephonyError | CircuitOpen>
  /**
   * Ends a call in progress (`calls(sid).update({ status: "completed" })`); one still ringing is canceled.
   * Whether Twilio ended it: false when the call had already ended or Twilio does not know it.
   */
  readonly endCall: (sid: string) => Effect.Effect<boolean, TelephonyError | CircuitOpen>
  readonly circuit: (channel: Channel) => Effect.Effect<CircuitStatus>
  /**
   * How long until the channel would let a request through: zero when closed, when an open
   * circuit is due a probe, or when a half-open one has no probe out. Callers that wait on it
   * must still go on to make the request, or no probe would ever close the circuit.
   */
  readonly refusingFor: (channel: Channel) => Effect.Effect<Duration.Duration>
  /** The channels stopped because Twilio refuses how this deployment is configured (none when all is well). */
  readonly misconfigured: Effect.Effect<ReadonlyArray<Misconfiguration>>
}

export class Telephony extends Context.Tag("switchboard/infra/Telephony")<Telephony, TelephonyService>() {}

export interface TelephonyOptions {
  readonly client: Twilio
  /** The number calls come from, and texts that name no other. */
  readonly from: string
  readonly metrics: Metrics
  readonly breaker?: BreakerPolicy | undefined
  /** A request with no answer by then fails as retryable and ambiguous. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How often a channel stopped for its configuration lets one request through (CONFIGURATION_PROBE by default). */
  readonly configurationProbe?: Duration.DurationInput | undefined
}

const CIRCUIT_GAUGE: Record<CircuitStatus, number> = { closed: 0, half_open: 1, open: 2 }

const callInfo = (call: CallInstance): CallInfo => {
  // the SDK hands back what it could not parse as it came (null, a string): only a valid Date is a date
  const created: unknown = call.dateCreated
  const duration = call.duration === null || call.duration === undefined ? NaN : Number.parseInt(call.duration, 10)
  return {
    sid: call.sid,
    to: call.to,
    status: call.status,
    createdAt: created instanceof Date && !Number.isNaN(created.getTime()) ? created : undefined,
    durationSeconds: Number.isNaN(duration) ? undefined : duration
  }
}

/** Resolves a Twilio 404 to undefined: the resource does not exist, which is an answer, not a failure. */
const absentOn404 = <A>(request: Promise<A>): Promise<A | undefined> =>
  request.catch((error: unknown) => ((error as { status?: unknown }).status === 404 ? undefined : Promise.reject(error)))

const DEFAULT_LIST_LIMIT = 2000

export const make = (options: TelephonyOptions): TelephonyService => {
  const policy = options.breaker ?? defaultBreakerPolicy
  const timeout = Duration.decode(options.timeout ?? "15 seconds")
  const probeMillis = Duration.toMillis(Duration.decode(options.configurationProbe ?? CONFIGURATION_PROBE))
  const breakers: Record<Channel, Breaker> = { voice: closedBreaker, sms: closedBreaker }
  const publish = (channel: Channel) => options.metrics.circuitState.set({ channel }, CIRCUIT_GAUGE[breakers[channel].status])
  publish("voice")
  publish("sms")

  /** Per channel: why it is stopped, when the next probe may go, and whether one is out. */
  const latches: Record<Channel, (Misconfiguration & { readonly probeAt: number; readonly probing: boolean }) | undefined> = { voice: undefined, sms: undefined }
  const publishConfiguration = () => {
    const active = new Set(Object.values(latches).flatMap((latch) => (latch === undefined ? [] : [latch.reason])))
    for (const reason of ConfigurationReasons) options.metrics.configurationError.set({ reason }, active.has(reason) ? 1 : 0)
  }
  publishConfiguration()
  const probeIn = (latch: { readonly probeAt: number; readonly probing: boolean } | undefined, now: number): number =>
    latch === undefined ? 0 : latch.probing ? probeMillis : Math.max(0, latch.probeAt - now)
  /**
   * After a request on `channel` ended: a configuration refusal stops its channels, an answer clears the channel,
   * anything else leaves it. What changed, to log.
   */
  const settle = (channel: Channel, failure: TwilioFailure | undefined, now: number): Effect.Effect<void> => {
    let said: Effect.Effect<void> = Effect.void
    const reason = failure === undefined ? undefined : configurationReason(failure)
    if (reason !== undefined && failure !== undefined) {
      const stopped: ReadonlyArray<Channel> = reason === "twilio_auth" || reason === "twilio_account_suspended" ? ["voice", "sms"] : [channel]
      for (const c of stopped) {
        const since = latches[c]?.reason === reason ? (latches[c]?.since ?? new Date(now)) : new Date(now)
        latches[c] = { channel: c, reason, code: failure.code, message: failure.message, since, probeAt: now + probeMillis, probing: false }
      }
      if (latches[channel]?.since.getTime() === now) {
        said = Effect.logError(
          `Twilio refused this deployment's configuration: ${REASON_TEXT[reason]} (${failure.code ?? failure.status ?? "?"}: ${failure.message}); ${stopped.join(" and ")} stopped for every business, probing every ${Duration.format(Duration.millis(probeMillis))}`
        )
      }
    } else if (failure === undefined) {
      if (latches[channel] !== undefined) said = Effect.logInfo(`Twilio accepted a ${channel} request again: the ${latches[channel]?.reason} stop is lifted`)
      latches[channel] = undefined
    } else if (latches[channel] !== undefined) {
      latches[channel] = { ...(latches[channel] as NonNullable<(typeof latches)[Channel]>), probing: false, probeAt: now + probeMillis }
    }
    publishConfiguration()
    return said
  }

  /** One request through the channel's breaker: refused while open, counted, classified. */
  const guarded = <A>(
    channel: Channel,
    op: string,
    request: () => Promise<A>,
    attributes: Record<string, unknown>
  ): Effect.Effect<A, TelephonyError | CircuitOpen> =>
    Effect.suspend((): Effect.Effect<A, TelephonyError | CircuitOpen> => {
      const now = Date.now()
      const latch = latches[channel]
      if (latch !== undefined) {
        const wait = probeIn(latch, now)
        if (wait > 0) {
          options.metrics.twilioRequests.inc({ op, outcome: "circuit_open" })
          return Effect.fail(new CircuitOpen({ channel, retryAfter: Duration.millis(wait) }))
        }
        latches[channel] = { ...latch, probing: true } // this request is the probe
      }
      const decision = admit(breakers[channel], now, policy)
      breakers[channel] = decision.breaker
      publish(channel)
      if (!decision.allowed) {
        options.metrics.twilioRequests.inc({ op, outcome: "circuit_open" })
        return Effect.fail(new CircuitOpen({ channel, retryAfter: Duration.millis(retryAfter(breakers[channel], now, policy)) }))
      }
      const started = performance.now()
      return Effect.tryPromise({ try: request, catch: classify }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: (): TwilioFailure => ({ kind: "retryable", ambiguous: true, code: "TIMEOUT", status: undefined, message: `no answer within ${Duration.format(timeout)}` })
        }),
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            if (Exit.isInterrupted(exit)) {
              // no verdict on Twilio's health: free the probe slots and leave the rest as it was
              breakers[channel] = { ...breakers[channel], probing: false }
              const held = latches[channel]
              if (held !== undefined) latches[channel] = { ...held, probing: false }
              return Effect.void
            }
            const failure = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
            const said = settle(channel, failure, Date.now())
            breakers[channel] = record(breakers[channel], failure === undefined || !isTwilioUnwell(failure), Date.now(), policy)
            publish(channel)
            const outcome = failure === undefined ? "ok" : failure.ambiguous ? "ambiguous" : failure.kind
            options.metrics.twilioRequests.inc({ op, outcome })
            options.metrics.twilioDuration.observe({ op }, (performance.now() - started) / 1000)
            return said
          })
        ),
        Effect.mapError((failure) => new TelephonyError({ ...failure, channel })),
        Effect.withSpan(`twilio ${op}`, { kind: "client", attributes: { "twilio.op": op, ...attributes } })
      )
    })

  return {
    placeCall: (request) =>
      guarded(
        "voice",
        "calls.create",
        () =>
          options.client.calls.create({
            to: request.to,
            from: options.from,
            url: request.voiceUrl,
            statusCallback: request.statusCallback,
            statusCallbackEvent: ["initiated", "ringing", "answered", "completed"],
            timeout: request.ringSeconds
          }),
        {}
      ).pipe(Effect.map((call) => ({ sid: call.sid }))),
    sendSms: (request) =>
      guarded(
        "sms",
        "messages.create",
        () =>
          options.client.messages.create({
            to: request.to,
            from: request.from ?? options.from,
            body: request.body,
            ...(request.statusCallback === undefined ? {} : { statusCallback: request.statusCallback })
          }),
        {} // no numbers or bodies in spans: they are personal data, and bodies may carry codes
      ).pipe(Effect.map((message) => ({ sid: message.sid }))),
    fetchCall: (sid) =>
      guarded("voice", "calls.fetch", () => absentOn404(options.client.calls(sid).fetch()), { "twilio.call_sid": sid }).pipe(
        Effect.map((call) => (call === undefined ? undefined : callInfo(call)))
      ),
    endCall: (sid) =>
      guarded(
        "voice",
        "calls.update",
        () =>
          options.client
            .calls(sid)
            .fetch()
            .then((call) => (call.status === "queued" || call.status === "ringing" ? "canceled" : "completed"))
            .then((status) => options.client.calls(sid).update({ status }))
            .then(() => true),
        { "twilio.call_sid": sid }
      ).pipe(
        // 404: no such call; 21220: "Call is not in-progress" (it ended meanwhile): nothing left to end
        Effect.catchIf((error) => error._tag === "TelephonyError" && (error.status === 404 || error.code === "21220"), () => Effect.succeed(false))
      ),
    findCalls: (query) => {
      const limit = query.limit ?? DEFAULT_LIST_LIMIT
      return guarded(
        "voice",
        "calls.list",
        // the SDK pages for us; one call past the limit tells a cut list from a whole one
        () => options.client.calls.list({ to: query.to, from: options.from, pageSize: Math.min(1000, limit + 1), limit: limit + 1 }),
        {}
      ).pipe(Effect.map((calls) => ({ calls: calls.slice(0, limit).map(callInfo), complete: calls.length <= limit })))
    },
    circuit: (channel) => Effect.sync(() => breakers[channel].status),
    refusingFor: (channel) =>
      Effect.sync(() => {
        const now = Date.now()
        const breaker = breakers[channel]
        const configured = probeIn(latches[channel], now)
        if (breaker.status === "open") return Duration.millis(Math.max(configured, retryAfter(breaker, now, policy)))
        return Duration.millis(Math.max(configured, breaker.status === "half_open" && breaker.probing ? 1_000 : 0))
      }),
    misconfigured: Effect.sync(() =>
      Object.values(latches).flatMap((latch) => (latch === undefined ? [] : [{ channel: latch.channel, reason: latch.reason, code: latch.code, message: latch.message, since: latch.since }]))
    )
  }
}
