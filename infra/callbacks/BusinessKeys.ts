/**
 * The `business_keys` table (migrations/0010): issue, list, revoke and
 * resolve a business's API keys. A key is drawn from the CSPRNG and shown
 * once; only its SHA-256 is stored. Keys have 256 bits, so a fast hash is
 * enough: nothing can be guessed from it. `resolve` looks the key up on every
 * request, so a revocation holds in every process at once.
 */
import { SqlClient } from "@effect/sql"
import { createHash, randomBytes, randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { BusinessKey, KEY_PREFIX, type KeyKind, kindOf } from "../../domain/callbacks/Keys.ts"
import { narrow } from "../db/DatabaseError.ts"

/** How many characters of a key lists show. */
const PREFIX_LENGTH = 11

export const hashKey = (key: string): string => createHash("sha256").update(key).digest("hex")

export const newKey = (kind: KeyKind): string => `${KEY_PREFIX[kind]}${randomBytes(32).toString("base64url")}`

const KeyColumns = Schema.Struct({
  id: Schema.String,
  business_id: Schema.String,
  kind: Schema.String,
  prefix: Schema.String,
  label: Schema.NullOr(Schema.String),
  created_at: Schema.DateFromSelf,
  revoked_at: Schema.NullOr(Schema.DateFromSelf)
})

const decodeKey = (row: unknown) =>
  Effect.orDie(
    Effect.flatMap(Schema.decodeUnknown(KeyColumns)(row), (r) =>
      Schema.decodeUnknown(BusinessKey)({
        id: r.id,
        businessId: r.business_id,
        kind: r.kind,
        prefix: r.prefix,
        ...(r.label === null ? {} : { label: r.label }),
        createdAt: r.created_at.toISOString(),
        ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at.toISOString() })
      })
    )
  )

/** Who a valid key speaks for. */
export interface KeyOwner {
  readonly keyId: string
  readonly businessId: string
  readonly kind: KeyKind
}

export class BusinessKeys extends Effect.Service<BusinessKeys>()("switchboard/infra/BusinessKeys", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** A new key for the business: the key itself (shown once) and how lists show it. */
    const issue = (businessId: string, kind: KeyKind, label?: string) =>
      Effect.gen(function* () {
        const key = newKey(kind)
        const [row] = yield* sql`
          INSERT INTO business_keys (id, business_id, kind, prefix, hash, label)
          VALUES (${randomUUID()}, ${businessId}, ${kind}, ${key.slice(0, PREFIX_LENGTH)}, ${hashKey(key)}, ${label ?? null})
          RETURNING *`.pipe(narrow("keys.issue"))
        return { key, view: yield* decodeKey(row) }
      })

    /** The business's keys, oldest first, revoked ones included. */
    const list = (businessId: string) =>
      sql`SELECT * FROM business_keys WHERE business_id = ${businessId} ORDER BY created_at, id`.pipe(
        narrow("keys.list"),
        Effect.flatMap((rows) => Effect.forEach(rows, decodeKey))
      )

    /**
     * Revokes the key `afterSeconds` from now (0: at once); a later revocation of a key already
     * revoked only brings its end closer. None when there is no such key.
     */
    const revoke = (keyId: string, afterSeconds: number) =>
      sql`
        UPDATE business_keys SET revoked_at = least(coalesce(revoked_at, 'infinity'), now() + make_interval(secs => ${afterSeconds}))
         WHERE id = ${keyId}
        RETURNING *`.pipe(
        narrow("keys.revoke"),
        Effect.flatMap(([row]) => (row === undefined ? Effect.succeed(Option.none()) : Effect.map(decodeKey(row), Option.some)))
      )

    /** Who `key` speaks for, when it is a valid key; none for anything else (unknown, revoked, malformed). */
    const resolve = (key: string) =>
      kindOf(key) === undefined
        ? Effect.succeed(Option.none<KeyOwner>())
        : sql<{ id: string; business_id: string; kind: KeyKind }>`
            SELECT id, business_id, kind FROM business_keys
             WHERE hash = ${hashKey(key)} AND (revoked_at IS NULL OR revoked_at > now())`.pipe(
            narrow("keys.resolve"),
            Effect.map(([row]) => (row === undefined ? Option.none<KeyOwner>() : Option.some({ keyId: row.id, businessId: row.business_id, kind: row.kind })))
          )

    return { issue, list, revoke, resolve }
  })
}) {}
