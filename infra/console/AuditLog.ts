/**
 * The `operator_audit` table (migrations/0014): one row per operator action,
 * written by the use case that carries the action out (in its transaction
 * where it has one), never updated. Listed newest first, a page at a time.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AuditEntry, type Channel, type Operator } from "../../domain/console/Operator.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"

/** Who did it and from where. */
export interface Actor {
  readonly name: string
  /** Absent for someone not signed in (a refused sign-in). */
  readonly role?: Operator["role"] | undefined
  readonly via: Channel
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
}

/** What was done. */
export interface Action {
  readonly action: string
  readonly target?: string | undefined
  readonly outcome?: "ok" | "refused" | "failed" | undefined
  readonly detail?: Readonly<Record<string, unknown>> | undefined
}

export interface AuditFilter {
  readonly operator?: string | undefined
  readonly action?: string | undefined
  /** Only entries older than this id (the previous page's last). */
  readonly before?: string | undefined
  readonly limit: number
}

const Row = Schema.Struct({
  id: Schema.String,
  at: Schema.DateFromSelf,
  operator: Schema.String,
  role: Schema.NullOr(Schema.String),
  via: Schema.String,
  action: Schema.String,
  target: Schema.NullOr(Schema.String),
  outcome: Schema.String,
  detail: Schema.Unknown,
  ip: Schema.NullOr(Schema.String),
  user_agent: Schema.NullOr(Schema.String)
})

const entryOf = (row: unknown): Effect.Effect<AuditEntry> =>
  Effect.orDie(
    Effect.flatMap(Schema.decodeUnknown(Row)(row), (r) =>
      Schema.decodeUnknown(Schema.typeSchema(AuditEntry))({
        id: r.id,
        at: r.at,
        operator: r.operator,
        ...(r.role === null ? {} : { role: r.role }),
        via: r.via,
        action: r.action,
        ...(r.target === null ? {} : { target: r.target }),
        outcome: r.outcome,
        detail: r.detail,
        ...(r.ip === null ? {} : { ip: r.ip }),
        ...(r.user_agent === null ? {} : { userAgent: r.user_agent })
      })
    )
  )

/**
 * Text as PostgreSQL keeps it: text and jsonb refuse NUL, which a request may carry
 * (`/admin/api/jobs/a%00b/retry`), so it is written as U+FFFD and the action is still
 * recorded, as what it was given, legibly.
 */
const storable = (text: string): string => text.replaceAll("\u0000", "\uFFFD")
const nullable = (text: string | undefined): string | null => (text === undefined ? null : storable(text))

export class AuditLog extends Effect.Service<AuditLog>()("switchboard/infra/AuditLog", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const record = (actor: Actor, action: Action): Effect.Effect<void, DatabaseError> =>
      sql`
        INSERT INTO operator_audit (operator, role, via, action, target, outcome, detail, ip, user_agent)
        VALUES (${storable(actor.name)}, ${nullable(actor.role)}, ${storable(actor.via)}, ${storable(action.action)}, ${nullable(action.target)},
                ${storable(action.outcome ?? "ok")}, ${JSON.stringify(action.detail ?? {}, (_, value: unknown) => (typeof value === "string" ? storable(value) : value))}::jsonb,
                ${nullable(actor.ip)}, ${nullable(actor.userAgent?.slice(0, 512))})`.pipe(
        Effect.asVoid,
        narrow("operator_audit.record")
      )

    const list = (filter: AuditFilter): Effect.Effect<ReadonlyArray<AuditEntry>, DatabaseError> => {
      return sql`
        SELECT id::text, at, operator, role, via, action, target, outcome, detail, ip, user_agent FROM operator_audit
         WHERE (${filter.operator ?? null}::text IS NULL OR operator = ${filter.operator ?? null})
           AND (${filter.action ?? null}::text IS NULL OR action = ${filter.action ?? null})
           AND (${filter.before ?? null}::bigint IS NULL OR id < ${filter.before ?? null}::bigint)
         ORDER BY operator_audit.id DESC LIMIT ${filter.limit}`.pipe(narrow("operator_audit.list"), Effect.flatMap(Effect.forEach(entryOf)))
    }

    return { record, list } as const
  })
}) {}
