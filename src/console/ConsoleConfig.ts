/** The operator console's settings (README "Configuration"). */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

export interface ConsoleSettings {
  /** How long a session lasts from sign-in. */
  readonly sessionTtl: Duration.Duration
  /** Whether the cookie is `Secure` (and `__Host-` prefixed) whatever the request's scheme: PUBLIC_BASE_URL is https. */
  readonly httpsOrigin: boolean
  /** Sign-in attempts per client address, and per account name, within `signInWindow`. */
  readonly signInLimit: number
  readonly signInWindow: Duration.Duration
}

export const ConsoleSettings: Config.Config<ConsoleSettings> = Config.all({
  hours: Config.integer("CONSOLE_SESSION_HOURS").pipe(
    Config.withDefault(12),
    Config.validate({ message: "CONSOLE_SESSION_HOURS must be from 1 to 168", validation: (n) => n >= 1 && n <= 168 }),
    Config.withDescription("how long an operator's console session lasts from sign-in")
  ),
  base: Config.option(Config.url("PUBLIC_BASE_URL")),
  limit: Config.integer("CONSOLE_SIGN_IN_LIMIT").pipe(
    Config.withDefault(10),
    Config.validate({ message: "CONSOLE_SIGN_IN_LIMIT must be from 1 to 1000", validation: (n) => n >= 1 && n <= 1000 }),
    Config.withDescription("sign-in attempts allowed per client address and per account name in 15 minutes")
  )
}).pipe(
  Config.map(({ hours, base, limit }) => ({
    sessionTtl: Duration.hours(hours),
    httpsOrigin: Option.exists(base, (url) => url.protocol === "https:"),
    signInLimit: limit,
    signInWindow: Duration.minutes(15)
  }))
)
