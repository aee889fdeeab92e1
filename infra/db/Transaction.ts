/**
 * Transactions for code outside `infra/`: `inTransaction(effect)` runs the
 * effect in one database transaction (a savepoint when already inside one),
 * and the repositories' statements join it. A failure of the transaction
 * itself (BEGIN, COMMIT, a lost connection) is narrowed to `DatabaseError`, so
 * `SqlError` never reaches `src/` or `supervisors/`.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DatabaseError, fromSql } from "./DatabaseError.ts"

/** By tag, not `instanceof`: the failure of BEGIN or COMMIT may come from another copy of the module. */
const isSqlError = (error: unknown): error is SqlError => (error as { readonly _tag?: unknown } | null)?._tag === "SqlError"

/** The SQL client infra's repositories run on, named for `src/` (which may not import `@effect/sql`). */
export type SqlConnection = SqlClient.SqlClient

export class Transaction extends Effect.Service<Transaction>()("switchboard/infra/Transaction", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const run = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | DatabaseError, R> =>
      sql.withTransaction(effect).pipe(
        Effect.mapError((error) => (isSqlError(error) ? fromSql("transaction")(error) : error)),
        // a ROLLBACK that fails (the connection is gone) surfaces as a defect of the release: the same outage
        Effect.catchSomeDefect((defect) => (isSqlError(defect) ? Option.some(Effect.fail(fromSql("transaction")(defect))) : Option.none()))
      ) as Effect.Effect<
        A,
        E | DatabaseError,
        R
      >
    return { run }
  })
}) {}

/** Runs `effect` in one transaction; see {@link Transaction}. */
export const inTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | DatabaseError, R | Transaction> =>
  Effect.flatMap(Transaction, (tx) => tx.run(effect))
