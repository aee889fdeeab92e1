/**
 * The bearer tokens of the admin API and of `/metrics`, read once at start.
 * Without `ADMIN_TOKEN`, a process outside production generates one and prints
 * it once, so a developer can use the admin API at once; in production a
 * process that serves the admin API refuses to start without it.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

const MIN_TOKEN_LENGTH = 16

const token = (name: string, description: string) =>
  Config.option(
    Config.redacted(name).pipe(
      Config.withDescription(description),
      Config.validate({
        message: `${name} must be at least ${MIN_TOKEN_LENGTH} characters of visible ASCII`,
        validation: (value) => /^[\x21-\x7e]+$/.test(Redacted.value(value)) && Redacted.value(value).length >= MIN_TOKEN_LENGTH
      })
    )
  )

export const Production = Config.string("NODE_ENV").pipe(
  Config.withDefault("development"),
  Config.map((env) => env === "production")
)

/** The admin token: configured, or generated (and printed once) outside production. */
export const adminToken: Effect.Effect<Redacted.Redacted<string>, ConfigError.ConfigError> = Effect.gen(function* () {
  const configured = yield* token("ADMIN_TOKEN", "bearer token of /admin (generated and printed at start when unset outside production)")
  if (Option.isSome(configured)) return configured.value
  if (yield* Production) {
    return yield* Effect.fail(ConfigError.MissingData(["ADMIN_TOKEN"], "ADMIN_TOKEN must be set when NODE_ENV=production"))
  }
  const generated = randomBytes(24).toString("base64url")
  yield* Effect.logWarning(`ADMIN_TOKEN is not set; this process generated one (shown once): ${generated}`)
  return Redacted.make(generated)
})

/** The optional token protecting `/metrics`. */
export const metricsToken = token("METRICS_TOKEN", "bearer token required by /metrics when set")

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/**
 * Whether a presented credential is `token`: compared as SHA-256 digests with a timing-safe compare, so neither
 * the token's content nor its length leaks through timing.
 */
export const matchesToken = (token: Redacted.Redacted<string>): ((candidate: string) => boolean) => {
  const expected = digest(Redacted.value(token))
  return (candidate) => timingSafeEqual(digest(candidate), expected)
}
