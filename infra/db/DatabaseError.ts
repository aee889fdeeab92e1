/**
 * The one failure infra's repositories expose for the database; `SqlError` never leaves `infra/`.
 *
 * Whether a failure means "the database cannot serve now, retry later" (a 503)
 * or "what was asked is wrong" (a bug, a 500) is read from the error's cause
 * chain, as `pg` and @effect/sql-pg build it:
 *
 *   SqlError "Failed to acquire connection"  ─cause→ Error ECONNREFUSED / ENOENT (socket) / "timeout exceeded when trying to connect"
 *   SqlError "Failed to execute statement"   ─cause→ pg DatabaseError 57P01 (admin shutdown) / 42601 (a bug)
 *   SqlError "Connection error"              ─cause→ Error "Connection terminated unexpectedly"
 *
 * A SQLSTATE is only ever the five-character `code` of an error the server
 * sent; Node's system errors (`ECONNREFUSED`, `EPIPE`) carry a `code` too, with
 * `errno` and `syscall`, and are connection failures, not SQLSTATEs.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

export class DatabaseError extends Data.TaggedError("DatabaseError")<{
  readonly operation: string
  readonly message: string
  /** The Postgres SQLSTATE (five characters), when the server answered with one. */
  readonly code?: string
  readonly cause?: unknown
}> {}

/** SQLSTATEs of a server that cannot serve now: connection exceptions (08), insufficient resources (53), operator intervention such as shutdown (57P), and conflicts worth a retry. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P|40001$|40P01$)/

/** Node's system error codes for a connection that could not be made or was lost. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL"
])

/** What `pg`, `pg-pool` and @effect/sql-pg say, without a code, when a connection failed, timed out or was closed under a query. */
const CONNECTION_MESSAGES: ReadonlyArray<RegExp> = [
  /^Connection terminated/, // "…unexpectedly", "…due to connection timeout", or the client ended under a query
  /^timeout exceeded when trying to connect$/, // pg-pool: no connection within connectionTimeoutMillis
  /^timeout expired$/, // pg: the connect timer destroyed the socket
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/, // the process is shutting down
  /Connection timed out$/ // @effect/sql-pg's connect timeout
]

interface ErrorLike {
  readonly code?: unknown
  readonly errno?: unknown
  readonly syscall?: unknown
  readonly message?: unknown
  readonly cause?: unknown
  readonly errors?: unknown
}

/** The SQLSTATE of one error: a five-character code on an error that is not one of Node's system errors. */
const sqlStateOf = (error: ErrorLike): string | undefined =>
  typeof error.code === "string" && /^[0-9A-Z]{5}$/.test(error.code) && error.errno === undefined && error.syscall === undefined
    ? error.code
    : undefined

/** The error and its causes, breadth first (`cause`, and the `errors` of an AggregateError), a few levels deep. */
const chainOf = (error: unknown): ReadonlyArray<ErrorLike> => {
  const chain: Array<ErrorLike> = []
  let level: Array<unknown> = [error]
  for (let depth = 0; depth < 6 && level.length > 0; depth++) {
    const next: Array<unknown> = []
    for (const node of level) {
      if (typeof node !== "object" || node === null || chain.includes(node as ErrorLike)) continue
      const e = node as ErrorLike
      chain.push(e)
      if (e.cause !== undefined) next.push(e.cause)
      if (Array.isArray(e.errors)) next.push(...(e.errors as ReadonlyArray<unknown>))
    }
    level = next
  }
  return chain
}

const messageOf = (error: ErrorLike): string => (typeof error.message === "string" ? error.message : "")

/**
 * Why the database could not serve, when `error` (a DatabaseError, SqlError or
 * pg error) says it could not; `undefined` when it is an error in what was
 * asked. Walking the causes from the outside in, the first SQLSTATE decides;
 * before one, a connection-level system error or `pg` message makes it unavailable.
 */
export const unavailableReason = (error: unknown): string | undefined => {
  for (const e of chainOf(error)) {
    const state = sqlStateOf(e)
    if (state !== undefined) return UNAVAILABLE_SQLSTATE.test(state) ? `${messageOf(e)} (SQLSTATE ${state})` : undefined
    if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return messageOf(e) || e.code
    if (e.code === "ENOENT" && e.syscall === "connect") return messageOf(e) || "the database's Unix socket does not exist" // the server is down
    const message = messageOf(e)
    if (CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return message
  }
  return undefined
}

/**
 * Whether the database was unreachable or unable to serve (no connection, a
 * lost connection, a timeout, shutting down, out of resources, a serialization
 * conflict): worth a retry later, unlike an error in what was asked.
 */
export const isUnavailable = (error: DatabaseError): boolean => unavailableReason(error) !== undefined

/** Errors worth retrying at once: deadlocks and serialization failures. */
export const isTransient = (error: DatabaseError): boolean => error.code === "40P01" || error.code === "40001"

/** The SQLSTATE the server answered with, anywhere in the error's causes. */
const sqlState = (error: SqlError): string | undefined => {
  for (const e of chainOf(error.cause)) {
    const state = sqlStateOf(e)
    if (state !== undefined) return state
  }
  return undefined
}

/** What went wrong, in the words of the first cause that has any (`connect ECONNREFUSED 127.0.0.1:5432`, not "Failed to acquire connection"). */
export const detailOf = (error: SqlError): string =>
  chainOf(error.cause)
    .map(messageOf)
    .find((message) => message !== "") ?? error.message

export const fromSql = (operation: string) => (error: SqlError): DatabaseError => {
  const code = sqlState(error)
  return new DatabaseError({ operation, message: `${operation}: ${detailOf(error)}`, ...(code ? { code } : {}), cause: error })
}

/** Narrows an effect's SqlError to DatabaseError, naming the operation; other errors pass through. */
export const narrow =
  (operation: string) =>
  <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | DatabaseError, R> =>
    Effect.mapError(effect, (error) => (error._tag === "SqlError" ? fromSql(operation)(error as unknown as SqlError) : (error as Exclude<E, SqlError>)))
