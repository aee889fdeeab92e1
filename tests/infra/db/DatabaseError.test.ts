/**
 * Which database failures mean "unavailable, retry later" (a 503) and which are
 * errors in what was asked (a 500): a table of the shapes `pg`, `pg-pool` and
 * @effect/sql-pg produce, as seen against a real server that was stopped, hung
 * or out of connections.
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "vitest"
import { DatabaseError, fromSql, isTransient, isUnavailable, unavailableReason } from "../../../infra/db/DatabaseError.ts"

/** A Node system error, as `net` raises it (code, errno, syscall). */
const systemError = (code: string, message: string, syscall = "connect") => Object.assign(new Error(message), { code, errno: -1, syscall })

/** An error the server sent (pg-protocol's DatabaseError: severity and a SQLSTATE). */
const serverError = (code: string, message: string, severity = "ERROR") => Object.assign(new Error(message), { name: "error", code, severity })

const acquire = (cause: unknown) => new SqlError({ message: "Failed to acquire connection", cause })
const execute = (cause: unknown) => new SqlError({ message: "Failed to execute statement", cause })

const unavailable: ReadonlyArray<readonly [string, SqlError]> = [
  ["connection refused (TCP, server stopped)", acquire(systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"))],
  ["Unix socket missing (server stopped)", acquire(systemError("ENOENT", "connect ENOENT /data/postgres/.s.PGSQL.5432"))],
  [
    "connection refused on every address (AggregateError, empty message)",
    acquire(Object.assign(new AggregateError([systemError("ECONNREFUSED", "connect ECONNREFUSED ::1:5432"), systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")], ""), { code: "ECONNREFUSED" }))
  ],
  ["connection reset", new SqlError({ message: "Connection error", cause: systemError("ECONNRESET", "read ECONNRESET", "read") })],
  ["broken pipe (EPIPE is five letters, not a SQLSTATE)", new SqlError({ message: "Connection error", cause: systemError("EPIPE", "write EPIPE", "write") })],
  ["connect timed out at the socket", acquire(systemError("ETIMEDOUT", "connect ETIMEDOUT 10.0.0.5:5432"))],
  ["host unreachable", acquire(systemError("EHOSTUNREACH", "connect EHOSTUNREACH 10.0.0.5:5432"))],
  ["DNS failure", acquire(systemError("ENOTFOUND", "getaddrinfo ENOTFOUND db.internal", "getaddrinfo"))],
  ["pool acquire timed out (pg-pool)", acquire(new Error("timeout exceeded when trying to connect"))],
  ["connect timed out (pg)", acquire(new Error("Connection terminated due to connection timeout", { cause: new Error("timeout expired") }))],
  ["connection lost under a query", new SqlError({ message: "Connection error", cause: new Error("Connection terminated unexpectedly") })],
  ["query on a client whose connection failed", execute(new Error("Client has encountered a connection error and is not queryable"))],
  ["pool ended (process shutting down)", acquire(new Error("Cannot use a pool after calling end on the pool"))],
  ["@effect/sql-pg connect timeout", new SqlError({ message: "PgClient: Connection timed out", cause: new Error("Connection timed out") })],
  ["admin shutdown mid-query (57P01)", execute(serverError("57P01", "terminating connection due to administrator command", "FATAL"))],
  ["server starting or stopping (57P03)", acquire(serverError("57P03", "the database system is shutting down", "FATAL"))],
  ["too many connections (53300)", acquire(serverError("53300", "sorry, too many clients already", "FATAL"))],
  ["connection failure (08006)", execute(serverError("08006", "connection failure"))],
  ["serialization failure (40001)", execute(serverError("40001", "could not serialize access due to concurrent update"))],
  ["deadlock (40P01)", execute(serverError("40P01", "deadlock detected"))]
]

const notUnavailable: ReadonlyArray<readonly [string, SqlError]> = [
  ["syntax error (42601)", execute(serverError("42601", 'syntax error at or near "SELEC"'))],
  ["unique violation (23505)", execute(serverError("23505", "duplicate key value violates unique constraint"))],
  ["undefined table (42P01)", execute(serverError("42P01", 'relation "jobs" does not exist'))],
  ["invalid text (22P02)", execute(serverError("22P02", "invalid input syntax for type uuid"))],
  ["statement cancelled (57014 is not 57P)", execute(serverError("57014", "canceling statement due to statement timeout"))],
  ["wrong password: a SQLSTATE under a connection message still decides", acquire(serverError("28P01", "password authentication failed for user", "FATAL"))],
  ["a bad parameter (no code)", execute(new TypeError("Do not know how to serialize a BigInt"))],
  ["ENOENT that is not a socket connect", execute(systemError("ENOENT", "ENOENT: no such file or directory, open 'ca.pem'", "open"))],
  ["no cause at all", new SqlError({ message: "Failed to execute statement" })]
]

describe("a database failure", () => {
  it.each(unavailable)("is unavailable: %s", (_, error) => {
    const narrowed = fromSql("test.operation")(error)
    expect(isUnavailable(narrowed)).toBe(true)
    expect(unavailableReason(narrowed)).toEqual(expect.any(String))
  })

  it.each(notUnavailable)("is not unavailable: %s", (_, error) => {
    expect(isUnavailable(fromSql("test.operation")(error))).toBe(false)
    expect(unavailableReason(error)).toBeUndefined()
  })

  it("keeps only a real SQLSTATE as its code", () => {
    expect(fromSql("op")(execute(serverError("57P01", "terminating connection", "FATAL"))).code).toBe("57P01")
    expect(fromSql("op")(acquire(systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"))).code).toBeUndefined()
    expect(fromSql("op")(new SqlError({ message: "Connection error", cause: systemError("EPIPE", "write EPIPE", "write") })).code).toBeUndefined()
    expect(fromSql("op")(acquire(new Error("timeout exceeded when trying to connect"))).code).toBeUndefined()
  })

  it("says what went wrong in the words of its cause, naming the operation", () => {
    expect(fromSql("callbacks.get")(acquire(systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"))).message).toBe(
      "callbacks.get: connect ECONNREFUSED 127.0.0.1:5432"
    )
    const aggregate = Object.assign(new AggregateError([systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")], ""), { code: "ECONNREFUSED" })
    expect(fromSql("callbacks.get")(acquire(aggregate)).message).toBe("callbacks.get: connect ECONNREFUSED 127.0.0.1:5432")
    expect(fromSql("callbacks.get")(new SqlError({ message: "Failed to execute statement" })).message).toBe("callbacks.get: Failed to execute statement")
  })

  it("is unavailable when made by hand with a connection code (the shape that was once taken for a SQLSTATE)", () => {
    expect(isUnavailable(new DatabaseError({ operation: "op", message: "op: refused", code: "ECONNREFUSED" }))).toBe(true)
    expect(isUnavailable(new DatabaseError({ operation: "op", message: "op: bug", code: "42703" }))).toBe(false)
    expect(isUnavailable(new DatabaseError({ operation: "op", message: "op: gone", code: "57P01" }))).toBe(true)
  })

  it("is worth retrying at once only for a deadlock or a serialization failure", () => {
    expect(isTransient(fromSql("op")(execute(serverError("40P01", "deadlock detected"))))).toBe(true)
    expect(isTransient(fromSql("op")(execute(serverError("40001", "could not serialize"))))).toBe(true)
    expect(isTransient(fromSql("op")(execute(serverError("57P01", "terminating connection", "FATAL"))))).toBe(false)
    expect(isTransient(fromSql("op")(acquire(systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"))))).toBe(false)
  })
})
