/**
 * The failures a use case can end with, whatever asked for it: what was asked
 * for does not exist, conflicts with the state it is in, is gone, broke a rule
 * (with every field that did), or came too often. The HTTP edge maps each to
 * its problem type (http/Problems.ts); the CLI prints them.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isUuid } from "../domain/Ids.ts"

/** Where a field that failed validation was. */
export type FieldLocation = "body" | "query" | "path" | "header"

export interface FieldError {
  readonly in: FieldLocation
  /** A JSON Pointer (RFC 6901) into that part: `/escalation/0/phone`; `""` is the part as a whole. */
  readonly path: string
  readonly message: string
}

export class ValidationFailed extends Data.TaggedError("ValidationFailed")<{
  readonly detail: string
  readonly errors: ReadonlyArray<FieldError>
}> {}
export class NotFound extends Data.TaggedError("NotFound")<{ readonly detail: string }> {}
export class Conflict extends Data.TaggedError("Conflict")<{ readonly detail: string; readonly extra?: Record<string, unknown> }> {}
export class WrongCode extends Data.TaggedError("WrongCode")<{ readonly detail: string; readonly attemptsRemaining: number }> {}
export class Gone extends Data.TaggedError("Gone")<{ readonly detail: string; readonly extra?: Record<string, unknown> }> {}
export class Unprocessable extends Data.TaggedError("Unprocessable")<{ readonly detail: string }> {}
/** The visitor's chosen window never meets the opening hours within the horizon; `nextWindows` are the times that would. */
export class WindowUnavailable extends Data.TaggedError("WindowUnavailable")<{
  readonly detail: string
  readonly nextWindows: ReadonlyArray<{ readonly start: string; readonly end: string }>
}> {}
export class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly detail: string
  readonly retryAfterSeconds: number
  /** More members of the problem document (a budget's `reason`, `scope` and `channel`). */
  readonly extra?: Record<string, unknown>
}> {}

/** A business's bot check did not let a create through: `reasons` are the provider's error codes (or ours: `missing-input-response`, `hostname-mismatch`). */
export class BotCheckFailed extends Data.TaggedError("BotCheckFailed")<{ readonly detail: string; readonly reasons: ReadonlyArray<string> }> {}

/** A `ValidationFailed` for `errors`, its detail listing them in one line. */
export const validationFailed = (errors: ReadonlyArray<FieldError>): ValidationFailed =>
  new ValidationFailed({ detail: errors.map((e) => `${e.in} ${e.path === "" ? "(whole)" : e.path}: ${e.message}`).join("; "), errors })

/** One field broke a rule that only the use case can check (a phone read in the business's country). */
export const validationFailedAt = (where: FieldLocation, path: string, message: string): ValidationFailed => validationFailed([{ in: where, path, message }])

/** `id` when it can be one of ours; any other text names nothing here: `NotFound` naming `what`, without asking the database. */
export const ourId = (what: string, id: string): Effect.Effect<string, NotFound> =>
  isUuid(id) ? Effect.succeed(id) : Effect.fail(new NotFound({ detail: `no ${what} ${id}` }))

/** The value, or `NotFound` naming `what` and `id`. */
export const orNotFound =
  (what: string, id: string) =>
  <A>(option: Option.Option<A>): Effect.Effect<A, NotFound> =>
    Option.match(option, { onNone: () => Effect.fail(new NotFound({ detail: `no ${what} ${id}` })), onSome: Effect.succeed })

/** What `find` gives for `id`, or `NotFound` naming `what` (an id that cannot be ours is not looked up). */
export const lookUp = <A, E, R>(what: string, id: string, find: (id: string) => Effect.Effect<Option.Option<A>, E, R>): Effect.Effect<A, E | NotFound, R> =>
  ourId(what, id).pipe(Effect.flatMap(find), Effect.flatMap(orNotFound(what, id)))
