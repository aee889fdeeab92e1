/**
 * Bot checks (domain/callbacks/BotCheck.ts): a business's setting in
 * `business_bot_checks` (migrations/0012), and the provider's siteverify
 * endpoint, asked once per token.
 *
 * The endpoints are BOT_CHECK_TURNSTILE_URL and BOT_CHECK_HCAPTCHA_URL
 * (the real services by default; the tests point them at a local double).
 * An ask that takes longer than BOT_CHECK_TIMEOUT, does not connect, or gets
 * anything but a 200 with the answer's JSON is `SiteverifyUnavailable`: the
 * token's fate is unknown, so the create is refused as unavailable, never let
 * through.
 */
import { SqlClient } from "@effect/sql"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type BotCheckProvider, type BotCheckSetting, type BotCheckView, BotCheckProvider as Provider, SiteverifyAnswer } from "../../domain/callbacks/BotCheck.ts"
import { duration } from "../config/Env.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"

export class SiteverifyUnavailable extends Data.TaggedError("SiteverifyUnavailable")<{ readonly provider: BotCheckProvider; readonly reason: string }> {}

export const botCheckConfig = Config.all({
  turnstileUrl: Config.url("BOT_CHECK_TURNSTILE_URL").pipe(
    Config.withDefault(new URL("https://challenges.cloudflare.com/turnstile/v0/siteverify")),
    Config.withDescription("Cloudflare Turnstile's siteverify endpoint")
  ),
  hcaptchaUrl: Config.url("BOT_CHECK_HCAPTCHA_URL").pipe(Config.withDefault(new URL("https://api.hcaptcha.com/siteverify")), Config.withDescription("hCaptcha's siteverify endpoint")),
  timeout: duration("BOT_CHECK_TIMEOUT", "5 seconds", "a siteverify request that has not answered by then fails (the create is refused as unavailable)", {
    min: "100 millis",
    max: "30 seconds"
  })
})

const Columns = Schema.Struct({
  provider: Provider,
  site_key: Schema.String,
  secret: Schema.String,
  updated_at: Schema.DateFromSelf
})

/** An answer body is small: more than this is not a siteverify answer. */
const MAX_ANSWER_BYTES = 64 * 1024

export class BotChecks extends Effect.Service<BotChecks>()("switchboard/infra/BotChecks", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const settings = yield* botCheckConfig
    const endpoint: { readonly [P in BotCheckProvider]: string } = { turnstile: settings.turnstileUrl.href, hcaptcha: settings.hcaptchaUrl.href }
    const timeoutMs = Duration.toMillis(settings.timeout)

    const decode = (row: unknown) => Effect.orDie(Schema.decodeUnknown(Columns)(row))

    /** The business's bot check with its secret; none when it has none. */
    const find = (businessId: string): Effect.Effect<Option.Option<BotCheckSetting & { readonly updatedAt: Date }>, DatabaseError> =>
      sql`SELECT provider, site_key, secret, updated_at FROM business_bot_checks WHERE business_id = ${businessId}`.pipe(
        narrow("bot_checks.find"),
        Effect.flatMap(([row]) =>
          row === undefined
            ? Effect.succeed(Option.none())
            : Effect.map(decode(row), (r) => Option.some({ provider: r.provider, siteKey: r.site_key, secret: r.secret, updatedAt: r.updated_at }))
        )
      )

    /** Sets (or replaces) the business's bot check. */
    const set = (businessId: string, setting: BotCheckSetting): Effect.Effect<BotCheckView, DatabaseError> =>
      sql`
        INSERT INTO business_bot_checks (business_id, provider, site_key, secret) VALUES (${businessId}, ${setting.provider}, ${setting.siteKey}, ${setting.secret})
        ON CONFLICT (business_id) DO UPDATE SET provider = excluded.provider, site_key = excluded.site_key, secret = excluded.secret, updated_at = now()
        RETURNING provider, site_key, secret, updated_at`.pipe(
        narrow("bot_checks.set"),
        Effect.flatMap(([row]) => decode(row)),
        Effect.map((r) => ({ provider: r.provider, siteKey: r.site_key, updatedAt: r.updated_at }))
      )

    /** Removes the business's bot check; whether there was one. */
    const remove = (businessId: string) =>
      sql`DELETE FROM business_bot_checks WHERE business_id = ${businessId} RETURNING business_id`.pipe(
        narrow("bot_checks.remove"),
        Effect.map((rows) => rows.length > 0)
      )

    /** Asks the provider about a token: its answer, or `SiteverifyUnavailable`. */
    const siteverify = (setting: BotCheckSetting, token: string, remoteIp: string) =>
      Effect.tryPromise({
        try: async (signal) => {
          const form = new URLSearchParams({ secret: setting.secret, response: token, remoteip: remoteIp })
          if (setting.provider === "hcaptcha") form.set("sitekey", setting.siteKey)
          const response = await fetch(endpoint[setting.provider], {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: form,
            redirect: "error",
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          })
          const text = await response.text()
          if (response.status !== 200) throw new Error(`siteverify answered HTTP ${response.status}`)
          if (text.length > MAX_ANSWER_BYTES) throw new Error("siteverify's answer is too large")
          return text
        },
        catch: (cause) => new SiteverifyUnavailable({ provider: setting.provider, reason: cause instanceof Error ? cause.message : String(cause) })
      }).pipe(
        Effect.flatMap((text) =>
          Schema.decodeUnknown(Schema.parseJson(SiteverifyAnswer))(text).pipe(
            Effect.mapError(() => new SiteverifyUnavailable({ provider: setting.provider, reason: "siteverify's answer is not the JSON it documents" }))
          )
        ),
        Effect.withSpan("bot_check.siteverify", { attributes: { "bot_check.provider": setting.provider } })
      )

    return { find, set, remove, siteverify }
  })
}) {}
