/**
 * A business's bot check (domain/callbacks/BotCheck.ts): operators set, show
 * and remove it (the admin API), and a create from a web page must pass it
 * before anything is written or texted.
 *
 * Only creates made with a publishable key are checked: that key is in web
 * pages, where bots are. A secret key or the admin token is the business's or
 * the operator's own server, which has no browser to solve a challenge.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type BotCheckSetting, judge, MISSING_TOKEN } from "../../domain/callbacks/BotCheck.ts"
import { BotChecks } from "../../infra/callbacks/BotChecks.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { Unavailable } from "../http/Problems.ts"
import { BotCheckFailed, NotFound } from "../Failures.ts"
import * as Businesses from "./Businesses.ts"

/** What the bot check of a create looks at. */
export interface BotCheckAsk {
  /** The token the page's challenge gave (`botToken`). */
  readonly token: string | undefined
  readonly clientIp: string
}

/** The business's bot check, when it has one (with its secret). */
export const settingOf = (businessId: string) => Effect.flatMap(BotChecks, (checks) => checks.find(businessId))

/** Passes when the provider accepts the token for the business's `setting`; `BotCheckFailed` or `Unavailable` otherwise. */
export const pass = (businessId: string, setting: BotCheckSetting, ask: BotCheckAsk) =>
  Effect.gen(function* () {
    const checks = yield* BotChecks
    const metrics = yield* Metrics
    const { provider } = setting
    if (ask.token === undefined || ask.token === "") {
      metrics.botChecks.inc({ provider, outcome: "missing" })
      return yield* new BotCheckFailed({ detail: "this business asks web pages for a bot check: send the challenge's token as botToken", reasons: [MISSING_TOKEN] })
    }
    const answer = yield* checks.siteverify(setting, ask.token, ask.clientIp).pipe(
      Effect.tapError((e) => Effect.sync(() => metrics.botChecks.inc({ provider, outcome: "unavailable" })).pipe(Effect.zipRight(Effect.logWarning(`bot check: ${e.reason}`)))),
      Effect.catchTag("SiteverifyUnavailable", () => new Unavailable({ detail: `the bot check (${provider}) could not be verified; retry with a new token shortly`, retryAfterSeconds: 5 }))
    )
    // the hosts the challenge may have been solved on: the business's origins'
    const business = yield* Businesses.find(businessId)
    const judgement = judge(answer, business.allowedOrigins)
    metrics.botChecks.inc({ provider, outcome: judgement.passed ? "passed" : "failed" })
    if (!judgement.passed) {
      return yield* new BotCheckFailed({ detail: `the bot check (${provider}) did not accept the token (${judgement.reasons.join(", ")}); solve a new challenge`, reasons: judgement.reasons })
    }
  }).pipe(Effect.withSpan("bot_check.pass"))

/** The business's bot check as operators see it; `NotFound` when it has none. */
export const show = (businessId: string) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    const setting = yield* settingOf(business.id)
    if (Option.isNone(setting)) return yield* new NotFound({ detail: `business ${business.id} has no bot check` })
    const { provider, siteKey, updatedAt } = setting.value
    return { provider, siteKey, updatedAt }
  })

export const set = (businessId: string, setting: BotCheckSetting) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    return yield* Effect.flatMap(BotChecks, (checks) => checks.set(business.id, setting))
  })

export const remove = (businessId: string) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    const removed = yield* Effect.flatMap(BotChecks, (checks) => checks.remove(business.id))
    if (!removed) return yield* new NotFound({ detail: `business ${business.id} has no bot check` })
  })

/** What a web page may know of the business's bot check (none when it has none). */
export const publicOf = (businessId: string) => Effect.map(settingOf(businessId), Option.map(({ provider, siteKey }) => ({ provider, siteKey })))
