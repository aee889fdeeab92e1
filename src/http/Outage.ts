/**
 * How a failed request is logged (Handler.ts `run`): an internal error with its
 * cause, at error level; a database that could not serve, once per outage at
 * warning level (infra/db/DatabaseOutage.ts), not a stack per request; any
 * other problem not at all, since the client was told and it is not ours.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DatabaseError, isUnavailable } from "../../infra/db/DatabaseError.ts"
import { DatabaseOutage } from "../../infra/db/DatabaseOutage.ts"
import type { Problem } from "./Problems.ts"

/** The DatabaseError a request failed with, if any (infra narrows every SqlError to one). */
const databaseErrorOf = (failure: unknown): DatabaseError | undefined =>
  (failure as { readonly _tag?: unknown } | null | undefined)?._tag === "DatabaseError" ? (failure as DatabaseError) : undefined

/** A database outage met by a request: logged by the process's tracker, or at once where there is none. */
export const databaseUnavailable = (reason: string): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.serviceOption(DatabaseOutage),
    Option.match({ onNone: () => Effect.logWarning(`database unavailable: ${reason}`), onSome: (outage) => outage.failed(reason) })
  )

/** Logs a request that failed with `failure` (answered as `problem`) as it deserves. */
export const logFailure = (problem: Problem, failure: unknown, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (problem.slug === "internal") return Effect.logError("request failed", cause)
  const database = databaseErrorOf(failure)
  if (problem.slug === "unavailable" && database !== undefined && isUnavailable(database)) return databaseUnavailable(database.message)
  return Effect.void
}
