/**
 * The `operators` and `operator_sessions` tables (migrations/0014): named
 * accounts and the console's sessions. A session's id is drawn from the
 * CSPRNG (256 bits) and lives in the operator's cookie; only its SHA-256 is
 * stored, with the operator, role, expiry and where it was opened. `find`
 * reads the row on every request, so signing out, removing an account or
 * changing its role or password ends its sessions in every process at once.
 */
import { SqlClient } from "@effect/sql"
import { createHash, randomBytes } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Operator, Role } from "../../domain/console/Operator.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { DUMMY_HASH, hashPassword, verifyPassword } from "./Passwords.ts"

const hashId = (id: string): string => createHash("sha256").update(id).digest("hex")

export interface Account extends Operator {
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface Session extends Operator {
  /** The session's id, as the cookie carries it. */
  readonly id: string
  readonly expiresAt: Date
}

/** Where a session was opened from. */
export interface Origin {
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
}

export class Operators extends Effect.Service<Operators>()("switchboard/infra/Operators", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** Creates the account, or replaces its role and password; its sessions end. True when it was created. */
    const upsert = (name: string, role: Role, password: string): Effect.Effect<boolean, DatabaseError> =>
      Effect.gen(function* () {
        const hash = yield* hashPassword(password)
        return yield* sql.withTransaction(
          Effect.gen(function* () {
            const [row] = yield* sql<{ created: boolean }>`
              INSERT INTO operators (name, role, password_hash) VALUES (${name}, ${role}, ${hash})
              ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash, updated_at = now()
              RETURNING (xmax = 0) AS created`
            yield* sql`DELETE FROM operator_sessions WHERE operator = ${name}`
            return row?.created ?? false
          })
        )
      }).pipe(narrow("operators.upsert"))

    /** Removes the account and its sessions; false when there was none. */
    const remove = (name: string): Effect.Effect<boolean, DatabaseError> =>
      sql.withTransaction(
        Effect.gen(function* () {
          yield* sql`DELETE FROM operator_sessions WHERE operator = ${name}`
          const gone = yield* sql`DELETE FROM operators WHERE name = ${name} RETURNING name`
          return gone.length > 0
        })
      ).pipe(narrow("operators.remove"))

    const list: Effect.Effect<ReadonlyArray<Account>, DatabaseError> = sql<{ name: string; role: Role; created_at: Date; updated_at: Date }>`
      SELECT name, role, created_at, updated_at FROM operators ORDER BY name`.pipe(
      Effect.map((rows) => rows.map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at, updatedAt: r.updated_at }))),
      narrow("operators.list")
    )

    /** The account when `password` is its password; none otherwise (an unknown name takes as long as a wrong password). */
    const authenticate = (name: string, password: string): Effect.Effect<Option.Option<Operator>, DatabaseError> =>
      Effect.gen(function* () {
        const [row] = yield* sql<{ name: string; role: Role; password_hash: string }>`SELECT name, role, password_hash FROM operators WHERE name = ${name}`.pipe(
          narrow("operators.authenticate")
        )
        const valid = yield* verifyPassword(password, row?.password_hash ?? DUMMY_HASH)
        return valid && row !== undefined ? Option.some({ name: row.name, role: row.role }) : Option.none()
      })

    /** Opens a session for `operator`, valid for `ttl`; deletes expired sessions on the way. */
    const open = (operator: Operator, ttl: Duration.Duration, origin: Origin): Effect.Effect<Session, DatabaseError> =>
      Effect.gen(function* () {
        const id = randomBytes(32).toString("base64url")
        yield* sql`DELETE FROM operator_sessions WHERE expires_at < now()`
        const [row] = yield* sql<{ expires_at: Date }>`
          INSERT INTO operator_sessions (id_hash, operator, role, expires_at, ip, user_agent)
          VALUES (${hashId(id)}, ${operator.name}, ${operator.role}, now() + ${Duration.toMillis(ttl)} * interval '1 millisecond',
                  ${origin.ip ?? null}, ${origin.userAgent?.slice(0, 512) ?? null})
          RETURNING expires_at`
        return { id, name: operator.name, role: operator.role, expiresAt: row?.expires_at ?? new Date() }
      }).pipe(narrow("operator_sessions.open"))

    /** The live session `id` names; none when it is unknown, ended or expired. */
    const find = (id: string): Effect.Effect<Option.Option<Session>, DatabaseError> =>
      sql<{ operator: string; role: Role; expires_at: Date }>`
        SELECT operator, role, expires_at FROM operator_sessions WHERE id_hash = ${hashId(id)} AND expires_at > now()`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), (r) => ({ id, name: r.operator, role: r.role, expiresAt: r.expires_at }))),
        narrow("operator_sessions.find")
      )

    /** Ends the session (sign-out). */
    const close = (id: string): Effect.Effect<void, DatabaseError> =>
      sql`DELETE FROM operator_sessions WHERE id_hash = ${hashId(id)}`.pipe(Effect.asVoid, narrow("operator_sessions.close"))

    return { upsert, remove, list, authenticate, open, find, close } as const
  })
}) {}
