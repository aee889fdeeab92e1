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
import { classify, isTwilioUnwell, type TwilioFailure } from "./TwilioErrors.ts"

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
  readonly circuit: (channel: Channel) => Effect.Effect<CircuitStatus>
  /**
   * How long until the channel would let a request through: zero when closed, when an open
   * circuit is due a probe, or when a half-open one has no probe out. Callers that wait on it
   * must still go on to make the request, or no probe would ever close the circuit.
   */
  readonly refusingFor: (channel: Channel) => Effect.Effect<Duration.Duration>
}

export class Telephony extends Context.Tag("switchboard/infra/Telephony")<Telephony, TelephonyService>() {}

export interface TelephonyOptions {
  readonly client: Twilio
  /** The number calls and messages come from. */
  readonly from: string
  readonly metrics: Metrics
  readonly breaker?: BreakerPolicy | undefined
  /** A request with no answer by then fails as retryable and ambiguous. */
  readonly timeout?: Duration.DurationInput | undefined
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
  const breakers: Record<Channel, Breaker> = { voice: closedBreaker, sms: closedBreaker }
  const publish = (channel: Channel) => options.metrics.circuitState.set({ channel }, CIRCUIT_GAUGE[breakers[channel].status])
  publish("voice")
  publish("sms")

  /** One request through the channel's breaker: refused while open, counted, classified. */
  const guarded = <A>(
    channel: Channel,
    op: string,
    request: () => Promise<A>,
    attributes: Record<string, unknown>
  ): Effect.Effect<A, TelephonyError | CircuitOpen> =>
    Effect.suspend((): Effect.Effect<A, TelephonyError | CircuitOpen> => {
      const now = Date.now()
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
          Effect.sync(() => {
            if (Exit.isInterrupted(exit)) {
              // no verdict on Twilio's health: free the probe slot and leave the rest as it was
              breakers[channel] = { ...breakers[channel], probing: false }
              return
            }
            const failure = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
            breakers[channel] = record(breakers[channel], failure === undefined || !isTwilioUnwell(failure), Date.now(), policy)
            publish(channel)
            const outcome = failure === undefined ? "ok" : failure.ambiguous ? "ambiguous" : failure.kind
            options.metrics.twilioRequests.inc({ op, outcome })
            options.metrics.twilioDuration.observe({ op }, (performance.now() - started) / 1000)
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
            from: options.from,
            body: request.body,
            ...(request.statusCallback === undefined ? {} : { statusCallback: request.statusCallback })
          }),
        {} // no numbers or bodies in spans: they are personal data, and bodies may carry codes
      ).pipe(Effect.map((message) => ({ sid: message.sid }))),
    fetchCall: (sid) =>
      guarded("voice", "calls.fetch", () => absentOn404(options.client.calls(sid).fetch()), { "twilio.call_sid": sid }).pipe(
        Effect.map((call) => (call === undefined ? undefined : callInfo(call)))
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
        const breaker = breakers[channel]
        if (breaker.status === "open") return Duration.millis(retryAfter(breaker, Date.now(), policy))
        return breaker.status === "half_open" && breaker.probing ? Duration.seconds(1) : Duration.zero
      })
  }
}
