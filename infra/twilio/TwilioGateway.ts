/**
 * Which Twilio this process talks to, and how Twilio reaches it back.
 *
 * - With `TWILIO_ACCOUNT_SID` set: the real Twilio (`TWILIO_AUTH_TOKEN` and
 *   `TWILIO_FROM` are then required too).
 * - Otherwise the simulator (Simulator.ts): the one at `TWILIO_SIMULATOR_URL`
 *   if given (shared by several processes), or one started in this process on
 *   `SIMULATOR_PORT` (default 4010). Never with `NODE_ENV=production`: start-up
 *   fails instead.
 *
 * Texts come from a pool of numbers (`TWILIO_SMS_SENDERS`, TWILIO_FROM alone by
 * default), each paced at `SMS_SENDER_RATE` texts per second (domain/callbacks/
 * SmsSenders.ts); calls always come from TWILIO_FROM.
 *
 * Webhook URLs (voice, status callbacks) are built on `PUBLIC_BASE_URL`, which
 * is also the URL signatures are checked against. When it is unset (allowed
 * outside production only), the process's own HTTP address is used, so the
 * in-process simulator calls back the process that placed the call.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import twilio from "twilio"
import { SenderRateRange, senderPace } from "../../domain/callbacks/SmsSenders.ts"
import type { JobRateLimit } from "../../domain/jobs/JobDefinition.ts"
import { breakerPolicyOf, CallbackConfig } from "../callbacks/CallbackConfig.ts"
import { duration } from "../config/Env.ts"
import { Metrics } from "../observability/Metrics.ts"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_FROM, SimulatorConfig, startSimulator } from "./Simulator.ts"
import { TwilioRequestClient } from "./RequestClient.ts"
import { simulatedTwilio } from "./SimulatorClient.ts"
import { make, Telephony } from "./Telephony.ts"

const E164 = /^\+[1-9]\d{6,14}$/

/** At most this many numbers in TWILIO_SMS_SENDERS. */
const MAX_SENDERS = 1_000

/** TWILIO_SMS_SENDERS: E.164 numbers, comma-separated, each once; or why not. */
export const parseSenders = (text: string): Either.Either<ReadonlyArray<string>, string> => {
  const senders = text.split(",").map((part) => part.trim())
  const bad = senders.find((sender) => !E164.test(sender))
  if (bad !== undefined) return Either.left(bad === "" ? `"${text}" has an empty entry` : `"${bad}" is not an E.164 number such as +14155550100`)
  const twice = senders.find((sender, i) => senders.indexOf(sender) !== i)
  if (twice !== undefined) return Either.left(`${twice} is listed twice`)
  if (senders.length > MAX_SENDERS) return Either.left(`at most ${MAX_SENDERS} numbers`)
  return Either.right(senders)
}

/** The pool texts are sent from and each number's rate (TWILIO_SMS_SENDERS, SMS_SENDER_RATE). */
export const SmsSenderConfig = Config.all({
  senders: Config.option(
    Config.string("TWILIO_SMS_SENDERS").pipe(
      Config.mapOrFail((text) => Either.mapLeft(parseSenders(text), (message) => ConfigError.InvalidData(["TWILIO_SMS_SENDERS"], `TWILIO_SMS_SENDERS: ${message}`))),
      Config.withDescription("the numbers texts are sent from, comma-separated E.164 (default: TWILIO_FROM alone); each visitor always hears from the same one")
    )
  ),
  rate: Config.number("SMS_SENDER_RATE").pipe(
    Config.validate({
      message: `SMS_SENDER_RATE must be a number of texts per second from ${SenderRateRange.min} to ${SenderRateRange.max} (1: a long code, 3: toll-free, 100: a short code)`,
      validation: (rate) => Number.isFinite(rate) && rate >= SenderRateRange.min && rate <= SenderRateRange.max
    }),
    Config.withDefault(1),
    Config.withDescription("texts per second from each sender (Twilio's rate for the number: 1 for a long code, 3 toll-free, 100 a short code; 0.5 is one every 2 seconds)")
  )
})

const fromEnvironment = Config.all({
  production: Config.string("NODE_ENV").pipe(Config.withDefault("development"), Config.map((env) => env === "production")),
  accountSid: Config.option(Config.string("TWILIO_ACCOUNT_SID").pipe(Config.withDescription("Twilio account; unset: the simulator"))),
  authToken: Config.option(Config.redacted("TWILIO_AUTH_TOKEN").pipe(Config.withDescription("signs requests and status callbacks"))),
  from: Config.option(
    Config.string("TWILIO_FROM").pipe(
      Config.validate({ message: "TWILIO_FROM must be an E.164 number such as +15005550006", validation: (n) => E164.test(n) }),
      Config.withDescription("the number calls and texts come from")
    )
  ),
  sms: SmsSenderConfig,
  simulatorUrl: Config.option(Config.url("TWILIO_SIMULATOR_URL").pipe(Config.withDescription("a shared simulator to use instead of starting one"))),
  publicBaseUrl: Config.option(Config.url("PUBLIC_BASE_URL").pipe(Config.withDescription("the URL Twilio reaches this app at"))),
  timeout: duration("TWILIO_TIMEOUT", "15 seconds", "a Twilio request with no answer by then fails (as ambiguous)", { min: "1 second", max: "2 minutes" }),
  configurationProbe: duration(
    "TWILIO_CONFIGURATION_PROBE",
    "60 seconds",
    "after Twilio refuses this deployment's configuration (credentials, account, From, webhook URLs), how often one request goes through to see whether it was fixed",
    { min: "1 second", max: "1 hour" }
  )
})

export interface TwilioGatewayService {
  readonly mode: "twilio" | "simulator"
  /** The simulator's base URL when this process uses one. */
  readonly simulatorUrl: string | undefined
  readonly accountSid: string
  /** The number calls come from (and texts, unless TWILIO_SMS_SENDERS says otherwise). */
  readonly from: string
  /** The numbers texts come from (TWILIO_SMS_SENDERS; TWILIO_FROM alone by default), never empty. */
  readonly smsSenders: ReadonlyArray<string>
  /** How fast each sender may text (SMS_SENDER_RATE), as the job engine paces it. */
  readonly smsPace: JobRateLimit
  /** How long a request to Twilio may take (TWILIO_TIMEOUT): a call created later than that after its create was sent is another's. */
  readonly requestTimeout: Duration.Duration
  /** The base of every webhook URL (no trailing slash); waits for the HTTP server when it is the default. */
  readonly publicBaseUrl: Effect.Effect<string>
  /** Whether `signature` is Twilio's signature of `path` under the public base URL with these form params. */
  readonly verifySignature: (signature: string | undefined, path: string, params: Record<string, string>) => Effect.Effect<boolean>
  /** Tells the gateway the process's own HTTP address (the default public base URL). */
  readonly listeningAt: (url: string) => Effect.Effect<void>
}

export class TwilioGateway extends Context.Tag("switchboard/infra/TwilioGateway")<TwilioGateway, TwilioGatewayService>() {}

const invalid = (name: string, message: string) => ConfigError.InvalidData([name], message)

/** The gateway and the Telephony service over it (and, when used, the in-process simulator for the life of the scope). */
export const TwilioLive = Layer.scopedContext(
  Effect.gen(function* () {
    const env = yield* fromEnvironment
    const settings = yield* CallbackConfig
    const metrics = yield* Metrics
    const real = Option.isSome(env.accountSid)
    if (real && (Option.isNone(env.authToken) || Option.isNone(env.from))) {
      return yield* Effect.fail(ConfigError.MissingData(["TWILIO_AUTH_TOKEN"], "TWILIO_ACCOUNT_SID is set: TWILIO_AUTH_TOKEN and TWILIO_FROM must be set too"))
    }
    if (env.production && !real) {
      return yield* Effect.fail(
        ConfigError.MissingData(["TWILIO_ACCOUNT_SID"], "NODE_ENV=production needs real Twilio credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM); the simulator never runs in production")
      )
    }
    if (env.production && Option.isNone(env.publicBaseUrl)) {
      return yield* Effect.fail(ConfigError.MissingData(["PUBLIC_BASE_URL"], "NODE_ENV=production needs PUBLIC_BASE_URL, the URL Twilio reaches this app at"))
    }
    if (real && Option.isSome(env.simulatorUrl)) return yield* Effect.fail(invalid("TWILIO_SIMULATOR_URL", "TWILIO_SIMULATOR_URL and TWILIO_ACCOUNT_SID exclude each other"))

    const accountSid = Option.getOrElse(env.accountSid, () => SIMULATOR_ACCOUNT_SID)
    const authToken = Option.match(env.authToken, { onNone: () => SIMULATOR_AUTH_TOKEN, onSome: Redacted.value })
    const from = Option.getOrElse(env.from, () => SIMULATOR_FROM)

    let simulatorUrl: string | undefined
    if (!real) {
      if (Option.isSome(env.simulatorUrl)) {
        simulatorUrl = env.simulatorUrl.value.toString().replace(/\/+$/, "")
      } else {
        const { port, host } = yield* SimulatorConfig
        // the simulator's callbacks run outside any fiber: their trouble is logged through this runtime's logger
        const runtime = yield* Effect.runtime<never>()
        const logWarning = (message: string) => Runtime.runFork(runtime)(Effect.logWarning(message))
        const simulator = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () =>
              startSimulator({
                accountSid,
                authToken,
                port,
                host,
                onCallbackError: (url, error) => logWarning(`simulator: the callback to ${url} failed: ${String(error)}`)
              }),
            catch: (cause) => invalid("SIMULATOR_PORT", `cannot start the Twilio simulator on ${host}:${port}: ${String(cause)}`)
          }),
          (running) => Effect.promise(() => running.close())
        )
        simulatorUrl = simulator.url
      }
      yield* Effect.logInfo(`Twilio simulator at ${simulatorUrl} (no TWILIO_ACCOUNT_SID; read sent texts at ${simulatorUrl}/sim/messages)`)
    }

    const client = simulatorUrl === undefined ? twilio(accountSid, authToken, { httpClient: new TwilioRequestClient() }) : simulatedTwilio(simulatorUrl, accountSid, authToken)
    // the SDK loads its REST resources on first use (over 100 ms): here, not inside the first text or call
    yield* Effect.sync(() => [client.messages, client.calls])
    const ownUrl = yield* Deferred.make<string>()
    const publicBaseUrl: Effect.Effect<string> = Option.match(env.publicBaseUrl, {
      onSome: (url) => Effect.succeed(url.toString().replace(/\/+$/, "")),
      onNone: () => Deferred.await(ownUrl)
    })
    const gateway: TwilioGatewayService = {
      mode: real ? "twilio" : "simulator",
      simulatorUrl,
      accountSid,
      from,
      smsSenders: Option.getOrElse(env.sms.senders, () => [from]),
      smsPace: senderPace(env.sms.rate),
      requestTimeout: env.timeout,
      publicBaseUrl,
      verifySignature: (signature, path, params) =>
        signature === undefined
          ? Effect.succeed(false)
          : Effect.map(publicBaseUrl, (base) => {
              try {
                return twilio.validateRequest(authToken, signature, base + path, params)
              } catch {
                return false
              }
            }),
      listeningAt: (url) => Deferred.succeed(ownUrl, url).pipe(Effect.asVoid)
    }
    const telephony = make({ client, from, metrics, breaker: breakerPolicyOf(settings), timeout: env.timeout, configurationProbe: env.configurationProbe })
    return Context.make(TwilioGateway, gateway).pipe(Context.add(Telephony, telephony))
  })
)
