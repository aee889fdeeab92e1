/**
 * The outbound webhooks' settings (docs/webhooks.md "Configuration"), read
 * once from the environment and validated at start-up. Outside production
 * (NODE_ENV) endpoints may be plain http and private addresses are allowed,
 * so a receiver on the developer's machine works; in production https is
 * required and private destinations are refused unless
 * WEBHOOK_ALLOW_PRIVATE_DESTINATIONS says otherwise.
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { DisablePolicy } from "../../domain/callbacks/Webhooks.ts"
import { duration, integer } from "../config/Env.ts"

const production = Config.string("NODE_ENV").pipe(
  Config.withDefault("development"),
  Config.map((env) => env === "production")
)

export const webhookConfig = Effect.gen(function* () {
  const isProduction = yield* production
  const settings = yield* Config.all({
    timeout: duration("WEBHOOK_TIMEOUT", "5 seconds", "an attempt (DNS, connect, response status and excerpt) fails after this", { min: "100 millis", max: "30 seconds" }),
    disableAfterFailures: integer("WEBHOOK_DISABLE_AFTER_FAILURES", 25, 1, 1_000_000, "consecutive failed attempts that disable an endpoint (with WEBHOOK_DISABLE_AFTER)"),
    disableAfter: duration("WEBHOOK_DISABLE_AFTER", "1 hour", "how long the run of failures must have lasted before it disables an endpoint", { min: "0 seconds", max: "90 days" }),
    retryWindow: duration("WEBHOOK_RETRY_WINDOW", "3 days", "a delivery is given up (dead) at its first failure after this long", { min: "1 second", max: "30 days" }),
    secretOverlap: duration("WEBHOOK_SECRET_OVERLAP", "24 hours", "after a rotation, the old secret keeps signing alongside the new one this long", { min: "0 seconds", max: "30 days" }),
    retention: duration("WEBHOOK_RETENTION", "30 days", "delivered and dead deliveries and their attempt log are deleted after this", { min: "1 hour", max: "3660 days" }),
    allowPrivate: Config.boolean("WEBHOOK_ALLOW_PRIVATE_DESTINATIONS").pipe(
      Config.withDefault(!isProduction),
      Config.withDescription("send to loopback, private, link-local and other non-public addresses (default: only outside production)")
    )
  })
  return { ...settings, requireHttps: isProduction }
})

export type WebhookSettings = Effect.Effect.Success<typeof webhookConfig>

export const disablePolicyOf = (settings: WebhookSettings): DisablePolicy => ({
  failures: settings.disableAfterFailures,
  afterMs: Duration.toMillis(settings.disableAfter)
})

export class WebhookConfig extends Context.Tag("switchboard/infra/WebhookConfig")<WebhookConfig, WebhookSettings>() {}

export const WebhookConfigLive = Layer.effect(WebhookConfig, webhookConfig)
