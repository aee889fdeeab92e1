/**
 * Errors as RFC 9457 problem documents: the one table from a failure's tag to
 * its status, slug and title. Handlers fail with the tagged errors below (or
 * the infra errors the table knows); anything else is a 500 `internal`, logged
 * with its cause, and never shows the client more than the request id.
 */
import * as Data from "effect/Data"
import { type DatabaseError, isUnavailable } from "../../infra/db/DatabaseError.ts"

export { type FieldError, type FieldLocation, ValidationFailed, NotFound, Conflict, WrongCode, Gone, Unprocessable, RateLimited, WindowUnavailable } from "../Failures.ts"
import { type ValidationFailed, type NotFound, type Conflict, type WrongCode, type Gone, type Unprocessable, type RateLimited, type BotCheckFailed, type WindowUnavailable } from "../Failures.ts"

export class MalformedBody extends Data.TaggedError("MalformedBody")<{ readonly detail: string }> {}
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly detail: string }> {}
export class Forbidden extends Data.TaggedError("Forbidden")<{ readonly detail: string }> {}
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{ readonly detail: string }> {}
export class UnsupportedMediaType extends Data.TaggedError("UnsupportedMediaType")<{ readonly detail: string }> {}
export class Unavailable extends Data.TaggedError("Unavailable")<{
  readonly detail: string
  readonly retryAfterSeconds?: number
  /** More members of the problem document (a probe's `checks`). */
  readonly extra?: Record<string, unknown>
}> {}

/** Every slug this API answers with, explained at `GET /problems/{slug}`. */
export const Catalogue = {
  validation: { status: 400, title: "Validation failed", description: "The request's fields did not pass validation; `errors` lists each field's path and message." },
  "malformed-body": { status: 400, title: "Malformed body", description: "The body is not the JSON the route expects (it could not be parsed, or is not an object)." },
  unauthorized: { status: 401, title: "Unauthorized", description: "The route needs `Authorization: Bearer <token>` and the header was missing or malformed." },
  forbidden: { status: 403, title: "Forbidden", description: "The credentials were understood but are not valid for this route." },
  "not-found": { status: 404, title: "Not found", description: "No route matches this method and path, or the resource it names does not exist." },
  conflict: { status: 409, title: "Conflict", description: "The resource is in a state that does not allow this operation; the body says which state." },
  "wrong-code": { status: 400, title: "Wrong code", description: "The verification code does not match; `attemptsRemaining` says how many more tries this code allows." },
  gone: { status: 410, title: "Gone", description: "The resource existed but can no longer be used (an expired or used-up verification code); start again." },
  "idempotency-mismatch": {
    status: 422,
    title: "Idempotency key reused",
    description: "This Idempotency-Key was used within 24 hours with a different body; use a new key for a different request."
  },
  "window-unavailable": {
    status: 422,
    title: "Window unavailable",
    description: "The window the visitor chose never meets the opening hours of the business (or the department asked for) within the next 14 days, or it has passed; `nextWindows` lists the next times a call can be made."
  },
  "bot-check-failed": {
    status: 403,
    title: "Bot check failed",
    description: "The business asks web pages for a bot check (Turnstile or hCaptcha) and the request's `botToken` was missing or not accepted; `reasons` has the provider's error codes. Solve a new challenge: a token is good once."
  },
  "payload-too-large": { status: 413, title: "Payload too large", description: "The request body is over the size limit (64 KiB)." },
  "unsupported-media-type": {
    status: 415,
    title: "Unsupported media type",
    description: "The body must be sent as `Content-Type: application/json` (so that a plain cross-site form cannot post it)."
  },
  "rate-limited": { status: 429, title: "Too many requests", description: "A rate limit was reached; retry after the number of seconds in `Retry-After`." },
  unavailable: { status: 503, title: "Service unavailable", description: "A dependency (the database) did not answer, or the process is shutting down; retry later." },
  internal: { status: 500, title: "Internal error", description: "An unexpected error on the server; it was logged with the request id given in the body." }
} as const satisfies Record<string, { status: number; title: string; description: string }>

export type Slug = keyof typeof Catalogue

export interface Problem {
  readonly slug: Slug
  readonly detail: string
  readonly extra?: Record<string, unknown> | undefined
  readonly headers?: Record<string, string> | undefined
}

/** The failures handlers may fail with, and what each becomes. */
export type HttpFailure =
  | ValidationFailed
  | MalformedBody
  | NotFound
  | Conflict
  | WrongCode
  | Gone
  | Unprocessable
  | WindowUnavailable
  | BotCheckFailed
  | RateLimited
  | Unauthorized
  | Forbidden
  | PayloadTooLarge
  | UnsupportedMediaType
  | Unavailable

const internal: Problem = { slug: "internal", detail: "an unexpected error occurred; it was logged with this request's id" }

const unavailable = (detail: string, retryAfterSeconds = 5, extra?: Record<string, unknown>): Problem => ({
  slug: "unavailable",
  detail,
  extra,
  headers: { "Retry-After": String(retryAfterSeconds) }
})

type Known = HttpFailure | DatabaseError

const databaseProblem = (e: DatabaseError): Problem => (isUnavailable(e) ? unavailable("the database did not answer; retry later") : internal)

/** The table: a failure's tag decides its problem. */
const byTag: { readonly [T in Known["_tag"]]: (error: Extract<Known, { readonly _tag: T }>) => Problem } = {
  ValidationFailed: (e) => ({ slug: "validation", detail: e.detail, extra: { errors: e.errors } }),
  MalformedBody: (e) => ({ slug: "malformed-body", detail: e.detail }),
  NotFound: (e) => ({ slug: "not-found", detail: e.detail }),
  Conflict: (e) => ({ slug: "conflict", detail: e.detail, extra: e.extra }),
  WrongCode: (e) => ({ slug: "wrong-code", detail: e.detail, extra: { attemptsRemaining: e.attemptsRemaining } }),
  Gone: (e) => ({ slug: "gone", detail: e.detail, extra: e.extra }),
  Unprocessable: (e) => ({ slug: "idempotency-mismatch", detail: e.detail }),
  WindowUnavailable: (e) => ({ slug: "window-unavailable", detail: e.detail, extra: { nextWindows: e.nextWindows } }),
  BotCheckFailed: (e) => ({ slug: "bot-check-failed", detail: e.detail, extra: { reasons: e.reasons } }),
  RateLimited: (e) => ({ slug: "rate-limited", detail: e.detail, headers: { "Retry-After": String(e.retryAfterSeconds) }, extra: { ...e.extra, retryAfterSeconds: e.retryAfterSeconds } }),
  Unauthorized: (e) => ({ slug: "unauthorized", detail: e.detail, headers: { "WWW-Authenticate": 'Bearer realm="switchboard"' } }),
  Forbidden: (e) => ({ slug: "forbidden", detail: e.detail }),
  PayloadTooLarge: (e) => ({ slug: "payload-too-large", detail: e.detail }),
  UnsupportedMediaType: (e) => ({ slug: "unsupported-media-type", detail: e.detail }),
  Unavailable: (e) => unavailable(e.detail, e.retryAfterSeconds, e.extra),
  // the database could not serve: retry later; any other database error is a bug (internal, logged)
  DatabaseError: (e) => databaseProblem(e),
}

/** The problem a failure becomes; anything the table does not know is an internal error. */
export const problemOf = (error: unknown): Problem => {
  const tag = (error as { readonly _tag?: unknown } | null | undefined)?._tag
  if (typeof tag !== "string" || !Object.hasOwn(byTag, tag)) return internal
  return (byTag[tag as Known["_tag"]] as (e: unknown) => Problem)(error)
}

/** The problem document and headers for a response. */
export const render = (problem: Problem, requestId: string | undefined) => {
  const entry = Catalogue[problem.slug]
  return {
    status: entry.status,
    headers: { "Content-Type": "application/problem+json", ...problem.headers },
    body: {
      // extension members first: they can never replace the standard ones
      ...problem.extra,
      type: `/problems/${problem.slug}`,
      title: entry.title,
      status: entry.status,
      detail: problem.detail,
      ...(requestId === undefined ? {} : { requestId })
    }
  }
}
