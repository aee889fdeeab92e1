/**
 * Typed readers for environment configuration that Effect's `Config` has no
 * direct form for. Durations are written `500ms`, `10s`, `5m`, `2h`, `7d`
 * (or `10 seconds`); an invalid value fails start-up naming the variable.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

const UNITS: Record<string, number> = {
  ms: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000
}

export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text)
  const unit = match?.[2]?.toLowerCase()
  const factor = unit === undefined ? undefined : UNITS[unit]
  if (match === null || factor === undefined) {
    return Either.left(`"${text}" is not a duration such as 500ms, 10s, 5m, 2h or 7d`)
  }
  return Either.right(Duration.millis(Number(match[1]) * factor))
}

/** Whether `d` lies in [min, max]; the message for it when not. */
export const durationWithin = (d: Duration.Duration, min: Duration.DurationInput, max: Duration.DurationInput): string | undefined =>
  Duration.between(d, { minimum: min, maximum: max }) ? undefined : `must be from ${Duration.format(Duration.decode(min))} to ${Duration.format(Duration.decode(max))}`

/** A duration from the environment, with a default and a description; with `bounds`, values outside them fail start-up. */
export const duration = (
  name: string,
  fallback: Duration.DurationInput,
  description: string,
  bounds?: { readonly min: Duration.DurationInput; readonly max: Duration.DurationInput }
): Config.Config<Duration.Duration> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) =>
      Either.flatMap(
        Either.mapLeft(parseDuration(text), (message) => ConfigError.InvalidData([name], `${name}: ${message}`)),
        (d) => {
          const problem = bounds === undefined ? undefined : durationWithin(d, bounds.min, bounds.max)
          return problem === undefined ? Either.right(d) : Either.left(ConfigError.InvalidData([name], `${name} ${problem}`))
        }
      )
    ),
    Config.withDefault(Duration.decode(fallback)),
    Config.withDescription(description)
  )

/** A positive integer from the environment, bounded. */
export const integer = (name: string, fallback: number, min: number, max: number, description: string): Config.Config<number> =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be an integer between ${min} and ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback),
    Config.withDescription(description)
  )
