/**
 * The lockout of phones that keep failing verification (migrations/0011_budgets.sql):
 * `lockout_record` counts each request whose code was spent on wrong entries,
 * under an advisory lock on the phone, so concurrent failures in any number of
 * processes lock the phone exactly when the threshold is reached. Statements
 * run on the ambient connection and join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import type { OperationalEventType } from "../../domain/OperationalEvents.ts"
import type { CallbackSettings } from "./CallbackConfig.ts"
import { recordOperational } from "./HistoryStore.ts"

export type LockoutPolicy = CallbackSettings["lockout"]

const LOCKED: OperationalEventType = "phone.locked"

/**
 * Records that `callbackId`'s verification failed for good; the end of the lock when this failure locked `phone`
 * (then with the operational event `phone.locked`, about that request, in the same transaction).
 */
export const recordFailure = (
  failure: { readonly phone: string; readonly callbackId: string; readonly businessId: string },
  policy: LockoutPolicy
): Effect.Effect<Option.Option<Date>, DatabaseError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ until: Date | null }>`
      SELECT lockout_record(${failure.phone}, ${failure.callbackId}::uuid, ${policy.failures.limit}::int,
        ${Duration.toSeconds(policy.failures.window)}::float8, ${Duration.toSeconds(policy.lockFor)}::float8) AS until`
    const until = Option.fromNullable(row?.until ?? null)
    if (Option.isSome(until)) {
      yield* recordOperational(sql, { type: LOCKED, subject: failure.callbackId, businessId: failure.businessId, data: { lockedUntil: until.value.toISOString() } })
    }
    return until
  }).pipe(narrow("lockout.record"))

/** The query of when `phone`'s lock ends, one row while it is locked now; a subquery in a statement that also does more (Budgets.ts). */
export const lockEndOf = (sql: SqlClient.SqlClient, phone: string) => sql<{ locked_until: Date }>`SELECT locked_until FROM phone_locks WHERE phone = ${phone} AND locked_until > now()`

/** Until when `phone` is locked, if it is now. */
export const lockedUntil = (phone: string): Effect.Effect<Option.Option<Date>, DatabaseError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => lockEndOf(sql, phone)).pipe(
    Effect.map(([row]) => Option.fromNullable(row?.locked_until)),
    narrow("lockout.lockedUntil")
  )
