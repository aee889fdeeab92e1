/** The one failure infra's repositories expose for the database; `SqlError` never leaves `infra/`. */
import type { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

export class DatabaseError extends Data.TaggedError("DatabaseError")<{
  readonly operation: string
  readonly message: string
  /** The Postgres SQLSTATE, when the server answered with one. */
  readonly code?: string
  readonly cause?: unknown
}> {}

/**
 * Whether the database was unreachable or unable to serve (no answer, a connection
 * failure, shutting down, out of resources, a serialization conflict): worth a retry
 * later, unlike an error in what was asked.
 */
export const isUnavailable = (error: DatabaseError): boolean =>
  error.code === undefined || /^(08|53|57P|40001|40P01)/.test(error.code)

const sqlState = (error: SqlError): string | undefined => {
  const cause = error.cause as { code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : undefined
}

/** Errors worth retrying at once: deadlocks and serialization failures. */
export const isTransient = (error: DatabaseError): boolean => error.code === "40P01" || error.code === "40001"

export const fromSql = (operation: string) => (error: SqlError): DatabaseError => {
  const code = sqlState(error)
  const cause = error.cause as { message?: unknown } | undefined
  const detail = typeof cause?.message === "string" ? cause.message : error.message
  return new DatabaseError({ operation, message: `${operation}: ${detail}`, ...(code ? { code } : {}), cause: error })
}

/** Narrows an effect's SqlError to DatabaseError, naming the operation; other errors pass through. */
export const narrow =
  (operation: string) =>
  <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | DatabaseError, R> =>
    Effect.mapError(effect, (error) => (error._tag === "SqlError" ? fromSql(operation)(error as unknown as SqlError) : (error as Exclude<E, SqlError>)))
