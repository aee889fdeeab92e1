/**
 * The failures a use case can end with, whatever asked for it: what was asked
 * for does not exist, conflicts with the state it is in, is gone, broke a rule
 * (with every field that did), or came too often. The HTTP edge maps each to
 * its problem type (http/Problems.ts); the CLI prints them.
 */
import * as Data from "effect/Data"

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
export class RateLimited extends Data.TaggedError("RateLimited")<{ readonly detail: string; readonly retryAfterSeconds: number }> {}

/** A `ValidationFailed` for `errors`, its detail listing them in one line. */
export const validationFailed = (errors: ReadonlyArray<FieldError>): ValidationFailed =>
  new ValidationFailed({ detail: errors.map((e) => `${e.in} ${e.path === "" ? "(whole)" : e.path}: ${e.message}`).join("; "), errors })

/** One field broke a rule that only the use case can check (a phone read in the business's country). */
export const validationFailedAt = (where: FieldLocation, path: string, message: string): ValidationFailed => validationFailed([{ in: where, path, message }])
