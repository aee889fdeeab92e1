/**
 * A business's optional bot check: a challenge (Cloudflare Turnstile or
 * hCaptcha) the visitor's browser solves in the widget, whose token the server
 * verifies with the provider (its siteverify endpoint) before a create sends
 * any text. Both providers take the same form (`secret`, `response`,
 * `remoteip`) and answer the same way (`success`, `error-codes`, `hostname`).
 *
 * `judge` reads an answer: the provider must say success, and when the
 * business lists allowed origins, the challenge must have been solved on one
 * of their hosts (a token solved on another site is someone else's).
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"

export const BotCheckProvider = Schema.Literal("turnstile", "hcaptcha").annotations({ identifier: "BotCheckProvider" })
export type BotCheckProvider = typeof BotCheckProvider.Type

const SiteKey = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200), Schema.pattern(/^[\x21-\x7e]+$/, { message: () => "must be printable ASCII without spaces" }))

/** What a web page may know of a business's bot check: which provider, and its public site key. */
export const BotCheck = Schema.Struct({
  provider: BotCheckProvider,
  siteKey: SiteKey.annotations({ description: "the provider's public site key, which the widget renders its challenge with" })
}).annotations({ identifier: "BotCheck" })
export type BotCheck = typeof BotCheck.Type

/** A bot check as operators see it: never its secret. */
export const BotCheckView = Schema.Struct({ ...BotCheck.fields, updatedAt: Timestamp }).annotations({ identifier: "BotCheckView" })
export type BotCheckView = typeof BotCheckView.Type

/** A bot check as stored and used: with the provider's secret. */
export interface BotCheckSetting extends BotCheck {
  readonly secret: string
}

/** What siteverify answers (other fields are ignored). */
export const SiteverifyAnswer = Schema.Struct({
  success: Schema.Boolean,
  "error-codes": Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  hostname: Schema.optional(Schema.NullOr(Schema.String))
})
export type SiteverifyAnswer = typeof SiteverifyAnswer.Type

/** The reason given when the provider's answer names no error of its own. */
export const HOSTNAME_MISMATCH = "hostname-mismatch"
export const MISSING_TOKEN = "missing-input-response"

export type Judgement = { readonly passed: true } | { readonly passed: false; readonly reasons: ReadonlyArray<string> }

/** Whether an answer lets a create through, for a business with these allowed origins. */
export const judge = (answer: SiteverifyAnswer, allowedOrigins: ReadonlyArray<string>): Judgement => {
  if (!answer.success) return { passed: false, reasons: answer["error-codes"].length > 0 ? answer["error-codes"] : ["not-successful"] }
  if (allowedOrigins.length === 0) return { passed: true }
  const hostname = answer.hostname ?? undefined
  const hosts = allowedOrigins.map((origin) => new URL(origin).hostname)
  return hostname !== undefined && hosts.includes(hostname.toLowerCase()) ? { passed: true } : { passed: false, reasons: [HOSTNAME_MISMATCH] }
}
