/**
 * The `callback_requests` table. Every change of a request's status is one
 * conditional UPDATE (`applyEvent`) whose WHERE names the statuses the event
 * may start from and whose SET writes the status it leads to, both read from
 * the domain's transition table (domain/callbacks/CallbackState.ts), so
 * concurrent writers never make a move the table does not list. Each status
 * entered is counted in `switchboard_callbacks_total{status}`, except a
 * take-back, which undoes a dial rather than entering anything.
 *
 * Rows decode through the domain's CallbackRequest schema (Rows.ts).
 * Statements run on the ambient connection, so inside `inTransaction` they
 * join the caller's transaction (as enqueues do).
 */
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { CallbackPriority, CallbackRequest } from "../../domain/callbacks/Business.ts"
import { type CallbackEvent, CallbackStatus, sourcesOf, targetsOf, TerminalStatuses } from "../../domain/callbacks/CallbackState.ts"
import { MoveTypes } from "../../domain/callbacks/History.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { type CallbackMatch, matchingCallbacks } from "./CallbackFilter.ts"
import { Metrics } from "../observability/Metrics.ts"
import { nextSeq, recordFrom } from "./HistoryStore.ts"
import { decodeFirst, decodeRow, decodeRows, RequestRow } from "./Rows.ts"
import { openFrom } from "./VerificationStore.ts"

export interface NewRequest {
  readonly id: string
  readonly businessId: string
  readonly phone: string
  readonly name: string | undefined
  readonly note: string | undefined
  /** The department it is with (`main` when absent). */
  readonly department?: string | undefined
  /** The window the visitor asked to be called in. */
  readonly window?: { readonly start: Date; readonly end: Date } | undefined
  readonly priority: CallbackPriority
  readonly traceparent: string | undefined
  /** The SHA-256 of the request's stream token (Codes.ts). */
  readonly streamTokenHash?: string | undefined
}

/** The callbacks list's filter (CallbackFilter.ts) and a page of it. */
export interface RequestFilter extends CallbackMatch {
  /** The cursor: list what was created before this request (its creation in microseconds since the epoch, as text, and its id). */
  readonly before?: { readonly createdMicros: string; readonly id: string } | undefined
  readonly limit: number
}

/** Extra columns an event writes besides the status. */
export interface StatusChange {
  readonly escalationLevel?: number
  readonly attemptOnNumber?: number
  readonly currentAttemptId?: string | null
  readonly nextAttemptAt?: Date | null
  readonly scheduledFor?: Date | null
  readonly bumpGeneration?: boolean
  /** The department it moves to; counted as one more route. */
  readonly department?: string
  /** Whether it is called on its department's after-hours chain. */
  readonly afterHours?: boolean
}

/** Where the caller saw the request: the event applies only if it is still there (no retry or attempt in between). */
export interface ExpectedPosition {
  readonly generation: number
  readonly escalationLevel: number
  readonly attemptOnNumber: number
}

/** What an event needs besides its name: the target of one that may lead to several, and the conditions it applies under. */
export interface EventGuard {
  /** The status to move to, for an event with several targets (`takeBack`: its attempt's `fromStatus`). */
  readonly to?: CallbackStatus | undefined
  readonly expected?: ExpectedPosition | undefined
  /** Applies only while this attempt is the request's current one. */
  readonly currentAttempt?: string | undefined
}

/** What a move's history event records that the request's row does not hold (`dial`: the number; `takeBack`: the attempt and why). */
export type MoveDetails = Readonly<Record<string, string | number | boolean>>

/** The visitor has an active request for this business already (the one-active-request index); `id` is that request. */
export class ActiveRequestExists extends Data.TaggedError("ActiveRequestExists")<{ readonly id: string | undefined }> {}

const UNIQUE_VIOLATION = "23505"

const Count = Schema.Struct({ status: CallbackStatus, n: Schema.Number })

export class RequestStore extends Effect.Service<RequestStore>()("switchboard/infra/RequestStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const metrics = yield* Metrics
    const terminal: ReadonlyArray<string> = TerminalStatuses

    /** What each move's history event records from the updated row (`r`), besides the caller's details. */
    const moveData: { readonly [E in CallbackEvent]: Fragment } = {
      verify: sql`jsonb_build_object('scheduledFor', coalesce(r.scheduled_for, r.updated_at), 'afterHours', r.after_hours)`,
      expire: sql`'{}'::jsonb`,
      dial: sql`jsonb_build_object('attemptId', r.current_attempt_id, 'level', r.escalation_level, 'attemptOnNumber', r.attempt_on_number)`,
      takeBack: sql`'{}'::jsonb`,
      answer: sql`jsonb_build_object('attemptId', r.current_attempt_id)`,
      hangUp: sql`'{}'::jsonb`,
      retryLater: sql`jsonb_build_object('nextAttemptAt', coalesce(r.next_attempt_at, r.updated_at))`,
      escalate: sql`jsonb_build_object('level', r.escalation_level)`,
      giveUp: sql`'{}'::jsonb`,
      route: sql`jsonb_build_object('to', r.department, 'routes', r.routes, 'afterHours', r.after_hours)`,
      cancel: sql`'{}'::jsonb`,
      adminRetry: sql`jsonb_build_object('generation', r.generation)`
    }

    /** Inserts a request awaiting verification, with its verification row; fails over to the active request of the same (business, phone). */
    const create = (request: NewRequest): Effect.Effect<CallbackRequest, ActiveRequestExists | DatabaseError> =>
      Effect.gen(function* () {
        const [row] = yield* sql`
          WITH r AS (
            INSERT INTO callback_requests (id, business_id, phone, name, note, department, window_start, window_end, status, priority, traceparent, stream_token_hash, event_seq, event_tx)
            VALUES (${request.id}, ${request.businessId}, ${request.phone}, ${request.name ?? null}, ${request.note ?? null}, ${request.department ?? "main"},
                    ${request.window?.start.toISOString() ?? null}::timestamptz, ${request.window?.end.toISOString() ?? null}::timestamptz,
                    'pending_verification', ${request.priority}, ${request.traceparent ?? null}, ${request.streamTokenHash ?? null}, 1, pg_current_xact_id())
            -- the index's own predicate (migrations/0002), written out so Postgres can infer the index
            ON CONFLICT (business_id, phone) WHERE status NOT IN (${sql.literal(terminal.map((s) => `'${s}'`).join(", "))}) DO NOTHING
            RETURNING *),
          e AS (${recordFrom(sql, "r", "callback.created", sql`jsonb_build_object('priority', r.priority)`)}),
          v AS (${openFrom(sql, "r")})
          SELECT * FROM r`
        if (row === undefined) {
          const [active] = yield* sql<{ id: string }>`
            SELECT id FROM callback_requests
             WHERE business_id = ${request.businessId} AND phone = ${request.phone} AND status <> ALL(${terminal}::text[])`
          // it finished in between: the pair is free again
          if (active === undefined) return yield* create(request)
          return yield* new ActiveRequestExists({ id: active.id })
        }
        metrics.callbacks.inc({ status: "pending_verification" })
        return yield* decodeRow(RequestRow)(row)
      }).pipe(narrow("callbacks.create"))

    const find = (id: string) => sql`SELECT * FROM callback_requests WHERE id = ${id}`.pipe(narrow("callbacks.find"), Effect.flatMap(decodeFirst(RequestRow)))

    /** The request, locked until the transaction ends. */
    const lock = (id: string) =>
      sql`SELECT * FROM callback_requests WHERE id = ${id} FOR UPDATE`.pipe(narrow("callbacks.lock"), Effect.flatMap(decodeFirst(RequestRow)))

    /** Requests newest first, each with its cursor (creation to the microsecond, then id: the order's own key). */
    const list = (filter: RequestFilter) =>
      sql<{ id: string; created_micros: string }>`
        SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_micros FROM callback_requests c
         WHERE ${matchingCallbacks(sql, filter)}
           AND ${
             filter.before === undefined
               ? sql`true`
               : sql`(c.created_at, c.id) < (timestamptz 'epoch' + ${filter.before.createdMicros}::bigint * interval '1 microsecond', ${filter.before.id}::uuid)`
           }
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT ${filter.limit}`.pipe(
        narrow("callbacks.list"),
        Effect.flatMap((rows) =>
          Effect.forEach(rows, (row) => Effect.map(decodeRow(RequestRow)(row), (request) => ({ request, cursor: `${row.created_micros}.${row.id}` })))
        )
      )

    /**
     * Applies `event` to the request if its status allows it, writing `change`
     * as well; the updated request, or none when the status (or the guard) did
     * not allow it. An event with several targets needs `guard.to`.
     */
    const applyEvent = (id: string, event: CallbackEvent, change: StatusChange = {}, guard: EventGuard = {}, details: MoveDetails = {}) =>
      Effect.gen(function* () {
        const targets = guard.to === undefined ? targetsOf(event) : [guard.to]
        const [to] = targets
        if (to === undefined || targets.length > 1) return yield* Effect.dieMessage(`${event} leads to ${targets.join(" or ")}: say which`)
        const sources = sourcesOf(event, to)
        if (sources.length === 0) return Option.none<CallbackRequest>()
        const set = (column: string, value: unknown, cast: string) => sql`, ${sql(column)} = ${value as string}::${sql.literal(cast)}`
        const optional = <A>(value: A | undefined, write: (value: A) => ReturnType<typeof set>) => (value === undefined ? sql`` : write(value))
        const { expected, currentAttempt } = guard
        const [row] = yield* sql`
          WITH r AS (
          UPDATE callback_requests
             SET status = ${to}, updated_at = now(), ${nextSeq(sql)},
                 finished_at = ${terminal.includes(to) ? sql`now()` : sql`NULL`}
                 ${optional(change.escalationLevel, (v) => set("escalation_level", v, "integer"))}
                 ${optional(change.attemptOnNumber, (v) => set("attempt_on_number", v, "integer"))}
                 ${optional(change.currentAttemptId, (v) => set("current_attempt_id", v, "uuid"))}
                 ${optional(change.nextAttemptAt, (v) => set("next_attempt_at", v?.toISOString() ?? null, "timestamptz"))}
                 ${optional(change.scheduledFor, (v) => set("scheduled_for", v?.toISOString() ?? null, "timestamptz"))}
                 ${change.bumpGeneration === true ? sql`, generation = generation + 1, circuit_notice_at = NULL` : sql``}
                 ${change.department === undefined ? sql`` : sql`, department = ${change.department}, routes = routes + 1`}
                 ${change.afterHours === undefined ? sql`` : sql`, after_hours = ${change.afterHours}`}
           WHERE id = ${id} AND status = ANY(${[...sources]}::text[])
             ${
               expected === undefined
                 ? sql``
                 : sql`AND generation = ${expected.generation} AND escalation_level = ${expected.escalationLevel} AND attempt_on_number = ${expected.attemptOnNumber}`
             }
             ${currentAttempt === undefined ? sql`` : sql`AND current_attempt_id = ${currentAttempt}`}
          RETURNING *),
          e AS (${recordFrom(sql, "r", MoveTypes[event], sql`${moveData[event]} || ${JSON.stringify(details)}::jsonb`)})
          SELECT * FROM r`
        if (row === undefined) return Option.none<CallbackRequest>()
        const request = yield* decodeRow(RequestRow)(row)
        if (event !== "takeBack") metrics.callbacks.inc({ status: request.status })
        return Option.some(request)
      }).pipe(
        narrow(`callbacks.${event}`),
        // a revived request would be a second active one for its (business, phone)
        Effect.catchIf(
          (e): e is DatabaseError => e._tag === "DatabaseError" && e.code === UNIQUE_VIOLATION,
          () => Effect.fail(new ActiveRequestExists({ id: undefined }))
        )
      )

    /** The hash of the request's stream token, with its business: none for an unknown request (or one without a token). */
    const streamAccess = (id: string) =>
      sql<{ business_id: string; stream_token_hash: string | null }>`SELECT business_id, stream_token_hash FROM callback_requests WHERE id = ${id}`.pipe(
        narrow("callbacks.streamAccess"),
        Effect.map(([row]) => (row === undefined ? Option.none() : Option.some({ businessId: row.business_id, tokenHash: row.stream_token_hash ?? undefined })))
      )

    const setScheduledFor = (id: string, at: Date | undefined) =>
      sql`UPDATE callback_requests SET scheduled_for = ${at?.toISOString() ?? null}::timestamptz, updated_at = now() WHERE id = ${id}`.pipe(
        Effect.asVoid,
        narrow("callbacks.schedule")
      )

    /** Marks the circuit notice as due; true only for the first caller of this generation. */
    const claimCircuitNotice = (id: string) =>
      sql`UPDATE callback_requests SET circuit_notice_at = now() WHERE id = ${id} AND circuit_notice_at IS NULL RETURNING id`.pipe(
        Effect.map((rows) => rows.length > 0),
        narrow("callbacks.notice")
      )

    /** How many requests are in each status (statuses with none are left out). */
    const countByStatus = sql`SELECT status, count(*)::int AS n FROM callback_requests GROUP BY status`.pipe(
      narrow("callbacks.countByStatus"),
      Effect.flatMap(decodeRows(Count))
    )

    return { create, find, lock, list, applyEvent, streamAccess, setScheduledFor, claimCircuitNotice, countByStatus }
  })
}) {}
