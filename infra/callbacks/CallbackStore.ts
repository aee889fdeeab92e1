/**
 * The callback tables: businesses, requests, verifications, attempts and
 * messages. Every change of a request's status is one conditional UPDATE
 * whose WHERE names the statuses the event may start from
 * (domain/callbacks/CallbackState.ts), so concurrent writers never make an
 * illegal move; each entered status is counted in
 * `switchboard_callbacks_total{status}`.
 *
 * Statements run on the ambient connection: inside `sql.withTransaction` they
 * join the caller's transaction (as enqueues do).
 */
import { SqlClient } from "@effect/sql"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Business, BusinessInput, CallAttempt, CallbackPriority, CallbackRequest } from "../../domain/callbacks/Business.ts"
import { type CallbackEvent, type CallbackStatus, sourcesOf, targetsOf, TerminalStatuses } from "../../domain/callbacks/CallbackState.ts"
import { type DatabaseError, narrow } from "../db/DatabaseError.ts"
import { Metrics } from "../observability/Metrics.ts"
import { type AttemptRow, attemptOf, type BusinessRow, businessOf, type RequestRow, requestOf } from "./Rows.ts"

export type { BusinessInput }

export interface NewRequest {
  readonly id: string
  readonly businessId: string
  readonly phone: string
  readonly name: string | undefined
  readonly note: string | undefined
  readonly priority: CallbackPriority
  readonly traceparent: string | undefined
}

export interface RequestFilter {
  readonly status?: CallbackStatus | undefined
  readonly businessId?: string | undefined
  readonly phone?: string | undefined
  /** The cursor: list what was created before this request (its creation in microseconds since the epoch, as text, and its id). */
  readonly before?: { readonly createdMicros: string; readonly id: string } | undefined
  readonly limit: number
}

export interface VerificationRow {
  readonly code_hash: string | null
  readonly issued_at: Date
  readonly checks: number
  readonly used_at: Date | null
  readonly sends: ReadonlyArray<Date>
}

/** Extra columns an event writes besides the status. */
export interface StatusChange {
  readonly escalationLevel?: number
  readonly attemptOnNumber?: number
  readonly currentAttemptId?: string | null
  readonly nextAttemptAt?: Date | null
  readonly scheduledFor?: Date | null
  readonly bumpGeneration?: boolean
}

/** Where the caller saw the request: the event applies only if it is still there (no retry or attempt in between). */
export interface ExpectedPosition {
  readonly generation: number
  readonly escalationLevel: number
  readonly attemptOnNumber: number
}

const TERMINAL_SQL: ReadonlyArray<string> = TerminalStatuses

/** The visitor has an active request for this business already (the one-active-request index); `id` is that request. */
export class ActiveRequestExists extends Data.TaggedError("ActiveRequestExists")<{ readonly id: string | undefined }> {}

const UNIQUE_VIOLATION = "23505"

export class CallbackStore extends Effect.Service<CallbackStore>()("switchboard/infra/CallbackStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const metrics = yield* Metrics

    // --- businesses ---

    const createBusiness = (id: string, input: BusinessInput) =>
      sql<BusinessRow>`
        INSERT INTO businesses (id, name, phone, timezone, country, hours, escalation, ring_seconds, max_concurrent_calls, vip_phones, sms_fallback)
        VALUES (${id}, ${input.name}, ${input.phone}, ${input.timezone}, ${input.country ?? null},
                ${input.hours === undefined ? null : JSON.stringify(input.hours)}::jsonb, ${JSON.stringify(input.escalation)}::jsonb,
                ${input.ringSeconds}, ${input.maxConcurrentCalls}, ${[...input.vipPhones]}::text[], ${input.smsFallback})
        RETURNING *`.pipe(
        Effect.map(([row]) => businessOf(row as BusinessRow)),
        narrow("businesses.create")
      )

    const updateBusiness = (id: string, input: BusinessInput) =>
      sql<BusinessRow>`
        UPDATE businesses SET name = ${input.name}, phone = ${input.phone}, timezone = ${input.timezone}, country = ${input.country ?? null},
               hours = ${input.hours === undefined ? null : JSON.stringify(input.hours)}::jsonb, escalation = ${JSON.stringify(input.escalation)}::jsonb,
               ring_seconds = ${input.ringSeconds}, max_concurrent_calls = ${input.maxConcurrentCalls},
               vip_phones = ${[...input.vipPhones]}::text[], sms_fallback = ${input.smsFallback}, updated_at = now()
         WHERE id = ${id}
        RETURNING *`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), businessOf)),
        narrow("businesses.update")
      )

    const findBusiness = (id: string) =>
      sql<BusinessRow>`SELECT * FROM businesses WHERE id = ${id}`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), businessOf)),
        narrow("businesses.find")
      )

    const listBusinesses = (limit: number, after: string | undefined) =>
      sql<BusinessRow>`
        SELECT * FROM businesses WHERE ${after === undefined ? sql`true` : sql`id > ${after}`} ORDER BY id LIMIT ${limit}`.pipe(
        Effect.map((rows) => rows.map(businessOf)),
        narrow("businesses.list")
      )

    // --- requests ---

    /** Inserts a request awaiting verification; fails over to the active request of the same (business, phone). */
    const createRequest = (request: NewRequest): Effect.Effect<CallbackRequest, ActiveRequestExists | DatabaseError> =>
      Effect.gen(function* () {
        const rows = yield* sql<RequestRow>`
          INSERT INTO callback_requests (id, business_id, phone, name, note, status, priority, traceparent)
          VALUES (${request.id}, ${request.businessId}, ${request.phone}, ${request.name ?? null}, ${request.note ?? null},
                  'pending_verification', ${request.priority}, ${request.traceparent ?? null})
          -- the index's own predicate (migrations/0002), written out so Postgres can infer the index
          ON CONFLICT (business_id, phone) WHERE status NOT IN (${sql.literal(TERMINAL_SQL.map((s) => `'${s}'`).join(", "))}) DO NOTHING
          RETURNING *`
        const [row] = rows
        if (row === undefined) {
          const [active] = yield* sql<{ id: string }>`
            SELECT id FROM callback_requests
             WHERE business_id = ${request.businessId} AND phone = ${request.phone} AND status <> ALL(${TERMINAL_SQL}::text[])`
          // it finished in between: the pair is free again
          if (active === undefined) return yield* createRequest(request)
          return yield* new ActiveRequestExists({ id: active.id })
        }
        yield* sql`INSERT INTO verifications (callback_id, sends) VALUES (${request.id}, ARRAY[now()])`
        metrics.callbacks.inc({ status: "pending_verification" })
        return requestOf(row)
      }).pipe(narrow("callbacks.create"))

    const findRequest = (id: string) =>
      sql<RequestRow>`SELECT * FROM callback_requests WHERE id = ${id}`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), requestOf)),
        narrow("callbacks.find")
      )

    /** The request, locked until the transaction ends. */
    const lockRequest = (id: string) =>
      sql<RequestRow>`SELECT * FROM callback_requests WHERE id = ${id} FOR UPDATE`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), requestOf)),
        narrow("callbacks.lock")
      )

    /** Requests newest first, each with its cursor (creation to the microsecond, then id: the order's own key). */
    const listRequests = (filter: RequestFilter) =>
      sql<RequestRow & { created_micros: string }>`
        SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_micros FROM callback_requests
         WHERE ${filter.status === undefined ? sql`true` : sql`status = ${filter.status}`}
           AND ${filter.businessId === undefined ? sql`true` : sql`business_id = ${filter.businessId}`}
           AND ${filter.phone === undefined ? sql`true` : sql`phone = ${filter.phone}`}
           AND ${
             filter.before === undefined
               ? sql`true`
               : sql`(created_at, id) < (timestamptz 'epoch' + ${filter.before.createdMicros}::bigint * interval '1 microsecond', ${filter.before.id}::uuid)`
           }
         ORDER BY created_at DESC, id DESC
         LIMIT ${filter.limit}`.pipe(
        Effect.map((rows) => rows.map((row) => ({ request: requestOf(row), cursor: `${row.created_micros}.${row.id}` }))),
        narrow("callbacks.list")
      )

    /**
     * Applies `event` to the request if its status allows it, writing `change`
     * as well; the updated request, or none when the status did not allow it.
     */
    const applyEvent = (id: string, event: CallbackEvent, change: StatusChange = {}, expected?: ExpectedPosition) =>
      Effect.gen(function* () {
        const sources = sourcesOf(event)
        // the events applied here have one target status, whatever they start from
        const to = targetsOf(event)[0] ?? "pending_verification"
        const set = (column: string, value: unknown, cast: string) => sql`, ${sql(column)} = ${value as string}::${sql.literal(cast)}`
        const optional = <A>(value: A | undefined, write: (value: A) => ReturnType<typeof set>) => (value === undefined ? sql`` : write(value))
        const rows = yield* sql<RequestRow>`
          UPDATE callback_requests
             SET status = ${to}, updated_at = now(),
                 finished_at = ${TERMINAL_SQL.includes(to) ? sql`now()` : sql`NULL`}
                 ${optional(change.escalationLevel, (v) => set("escalation_level", v, "integer"))}
                 ${optional(change.attemptOnNumber, (v) => set("attempt_on_number", v, "integer"))}
                 ${optional(change.currentAttemptId, (v) => set("current_attempt_id", v, "uuid"))}
                 ${optional(change.nextAttemptAt, (v) => set("next_attempt_at", v?.toISOString() ?? null, "timestamptz"))}
                 ${optional(change.scheduledFor, (v) => set("scheduled_for", v?.toISOString() ?? null, "timestamptz"))}
                 ${change.bumpGeneration === true ? sql`, generation = generation + 1, circuit_notice_at = NULL` : sql``}
           WHERE id = ${id} AND status = ANY(${[...sources]}::text[])
             ${
               expected === undefined
                 ? sql``
                 : sql`AND generation = ${expected.generation} AND escalation_level = ${expected.escalationLevel} AND attempt_on_number = ${expected.attemptOnNumber}`
             }
          RETURNING *`
        const [row] = rows
        if (row === undefined) return Option.none<CallbackRequest>()
        metrics.callbacks.inc({ status: row.status })
        return Option.some(requestOf(row))
      }).pipe(
        narrow(`callbacks.${event}`),
        // a revived request would be a second active one for its (business, phone)
        Effect.catchIf(
          (e): e is DatabaseError => e._tag === "DatabaseError" && e.code === UNIQUE_VIOLATION,
          () => Effect.fail(new ActiveRequestExists({ id: undefined }))
        )
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

    const countByStatus = sql<{ status: CallbackStatus; n: number }>`SELECT status, count(*)::int AS n FROM callback_requests GROUP BY status`.pipe(
      narrow("callbacks.countByStatus")
    )

    /** Requests created, completed and failed in the last 24 hours. */
    const last24h = sql<{ created: number; completed: number; failed: number }>`
      SELECT count(*) FILTER (WHERE created_at > now() - interval '24 hours')::int AS created,
             count(*) FILTER (WHERE status = 'completed' AND finished_at > now() - interval '24 hours')::int AS completed,
             count(*) FILTER (WHERE status = 'failed' AND finished_at > now() - interval '24 hours')::int AS failed
        FROM callback_requests`.pipe(narrow("callbacks.last24h"))

    // --- verifications ---

    const lockVerification = (callbackId: string) =>
      sql<VerificationRow>`SELECT code_hash, issued_at, checks, used_at, sends FROM verifications WHERE callback_id = ${callbackId} FOR UPDATE`.pipe(
        Effect.map(([row]) => Option.fromNullable(row)),
        narrow("verifications.lock")
      )

    const setCodeHash = (callbackId: string, hash: string) =>
      sql`UPDATE verifications SET code_hash = ${hash} WHERE callback_id = ${callbackId} AND used_at IS NULL`.pipe(Effect.asVoid, narrow("verifications.code"))

    const countCheck = (callbackId: string) =>
      sql`UPDATE verifications SET checks = checks + 1 WHERE callback_id = ${callbackId}`.pipe(Effect.asVoid, narrow("verifications.check"))

    const markVerified = (callbackId: string) =>
      sql`UPDATE verifications SET used_at = now(), code_hash = NULL WHERE callback_id = ${callbackId}`.pipe(Effect.asVoid, narrow("verifications.use"))

    /** A new code is due: the old one stops working at once, and the send is recorded. */
    const reissue = (callbackId: string) =>
      sql<{ issued_at: Date }>`
        UPDATE verifications SET code_hash = NULL, issued_at = now(), checks = 0, sends = sends || now()
         WHERE callback_id = ${callbackId} RETURNING issued_at`.pipe(
        Effect.map(([row]) => row?.issued_at ?? new Date()),
        narrow("verifications.reissue")
      )

    // --- attempts ---

    const insertAttempt = (attempt: {
      readonly id: string
      readonly callbackId: string
      readonly level: number
      readonly attemptOnNumber: number
      readonly to: string
      readonly ringSeconds: number
      readonly fromStatus: CallbackStatus
    }) =>
      sql<AttemptRow>`
        INSERT INTO call_attempts (id, callback_id, n, level, attempt_on_number, to_phone, ring_seconds, from_status)
        VALUES (${attempt.id}, ${attempt.callbackId},
                (SELECT coalesce(max(n), 0) + 1 FROM call_attempts WHERE callback_id = ${attempt.callbackId}),
                ${attempt.level}, ${attempt.attemptOnNumber}, ${attempt.to}, ${attempt.ringSeconds}, ${attempt.fromStatus})
        RETURNING *`.pipe(
        Effect.map(([row]) => attemptOf(row as AttemptRow)),
        narrow("attempts.insert")
      )

    const findAttempt = (id: string) =>
      sql<AttemptRow>`SELECT * FROM call_attempts WHERE id = ${id}`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), attemptOf)),
        narrow("attempts.find")
      )

    const lockAttempt = (id: string) =>
      sql<AttemptRow>`SELECT * FROM call_attempts WHERE id = ${id} FOR UPDATE`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), (r) => ({ ...attemptOf(r), fromStatus: r.from_status }))),
        narrow("attempts.lock")
      )

    /** Whether some attempt already owns this call. */
    const isCallKnown = (callSid: string) =>
      sql`SELECT 1 FROM call_attempts WHERE call_sid = ${callSid}`.pipe(
        Effect.map((rows) => rows.length > 0),
        narrow("attempts.bySid")
      )

    const attemptsOf = (callbackId: string) =>
      sql<AttemptRow>`SELECT * FROM call_attempts WHERE callback_id = ${callbackId} ORDER BY n`.pipe(
        Effect.map((rows) => rows.map(attemptOf)),
        narrow("attempts.list")
      )

    /** `sid`, unless another attempt owns that call already (then nothing: one call belongs to one attempt). */
    const unownedSid = (id: string, sid: string | undefined) =>
      sid === undefined
        ? sql`NULL::text`
        : sql`(SELECT ${sid}::text WHERE NOT EXISTS (SELECT 1 FROM call_attempts o WHERE o.call_sid = ${sid} AND o.id <> ${id}))`

    /** Records what Twilio said about an attempt. */
    const updateAttempt = (
      id: string,
      change: { readonly status: string; readonly answered: boolean; readonly callSid?: string | undefined; readonly sequence?: number | undefined; readonly error?: string | undefined }
    ) =>
      sql<AttemptRow>`
        UPDATE call_attempts
           SET status = ${change.status}, answered = ${change.answered},
               call_sid = coalesce(call_sid, ${unownedSid(id, change.callSid)}),
               last_sequence = greatest(last_sequence, ${change.sequence ?? -1}),
               error = coalesce(${change.error ?? null}, error),
               ended_at = CASE WHEN ${change.status} IN ('completed', 'busy', 'no-answer', 'failed', 'canceled') THEN coalesce(ended_at, now()) ELSE ended_at END
         WHERE id = ${id}
        RETURNING *`.pipe(
        Effect.map(([row]) => attemptOf(row as AttemptRow)),
        narrow("attempts.update")
      )

    /** Twilio accepted the call: its sid, unless a status report already brought it. */
    const markPlaced = (id: string, callSid: string) =>
      sql`
        UPDATE call_attempts SET call_sid = coalesce(call_sid, ${unownedSid(id, callSid)}),
               status = CASE WHEN status IN ('placing', 'unknown') THEN 'queued' ELSE status END
         WHERE id = ${id}`.pipe(Effect.asVoid, narrow("attempts.placed"))

    const markUnknown = (id: string, error: string) =>
      sql`UPDATE call_attempts SET status = 'unknown', error = ${error} WHERE id = ${id} AND status = 'placing'`.pipe(Effect.asVoid, narrow("attempts.unknown"))

    /** Deletes an attempt whose call was never placed (only while no status report has come for it). */
    const deleteUnplaced = (id: string) =>
      sql<AttemptRow>`DELETE FROM call_attempts WHERE id = ${id} AND status IN ('placing', 'unknown') RETURNING *`.pipe(
        Effect.map(([row]) => Option.map(Option.fromNullable(row), (r) => ({ ...attemptOf(r), fromStatus: r.from_status }))),
        narrow("attempts.delete")
      )

    /** Puts a request back where it was before an attempt that was never placed. */
    const restoreStatus = (id: string, attemptId: string, status: CallbackStatus, attemptOnNumber: number) =>
      sql`
        UPDATE callback_requests SET status = ${status}, attempt_on_number = ${attemptOnNumber}, current_attempt_id = NULL, updated_at = now()
         WHERE id = ${id} AND status = 'dialing' AND current_attempt_id = ${attemptId}`.pipe(Effect.asVoid, narrow("callbacks.restore"))

    // --- messages ---

    /** Records a message about to be sent; none when a notice or fallback of this generation exists already. */
    const insertMessage = (message: { readonly id: string; readonly callbackId: string; readonly kind: string; readonly generation: number; readonly to: string }) =>
      sql<{ id: string }>`
        INSERT INTO sms_messages (id, callback_id, kind, generation, to_phone)
        VALUES (${message.id}, ${message.callbackId}, ${message.kind}, ${message.generation}, ${message.to})
        ON CONFLICT (callback_id, kind, generation) WHERE kind <> 'verification' DO NOTHING
        RETURNING id`.pipe(
        Effect.map((rows) => rows.length > 0),
        narrow("messages.insert")
      )

    const setMessageSent = (id: string, sid: string) =>
      sql`UPDATE sms_messages SET sid = ${sid}, status = CASE WHEN status = 'sending' THEN 'queued' ELSE status END, updated_at = now() WHERE id = ${id}`.pipe(
        Effect.asVoid,
        narrow("messages.sent")
      )

    const setMessageFailed = (id: string, status: "unknown" | "not_sent", error: string) =>
      sql`UPDATE sms_messages SET status = ${status}, error = ${error}, updated_at = now() WHERE id = ${id}`.pipe(Effect.asVoid, narrow("messages.failed"))

    const deleteMessage = (id: string) => sql`DELETE FROM sms_messages WHERE id = ${id}`.pipe(Effect.asVoid, narrow("messages.delete"))

    /** Applies a message status report if it ranks above what is known (reports arrive out of order). */
    const reportMessage = (id: string, status: string, sequence: number) =>
      sql`
        UPDATE sms_messages SET status = ${status}, last_sequence = greatest(last_sequence, ${sequence}), updated_at = now()
         WHERE id = ${id}
           AND (CASE ${status} WHEN 'queued' THEN 1 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END)
             > (CASE status WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'undelivered' THEN 3 WHEN 'failed' THEN 3 ELSE 0 END)`.pipe(
        Effect.asVoid,
        narrow("messages.report")
      )

    return {
      createBusiness,
      updateBusiness,
      findBusiness,
      listBusinesses,
      createRequest,
      findRequest,
      lockRequest,
      listRequests,
      applyEvent,
      setScheduledFor,
      claimCircuitNotice,
      countByStatus,
      last24h,
      lockVerification,
      setCodeHash,
      countCheck,
      markVerified,
      reissue,
      insertAttempt,
      findAttempt,
      lockAttempt,
      attemptsOf,
      isCallKnown,
      updateAttempt,
      markPlaced,
      markUnknown,
      deleteUnplaced,
      restoreStatus,
      insertMessage,
      setMessageSent,
      setMessageFailed,
      deleteMessage,
      reportMessage
    }
  })
}) {}

export type { Business, CallAttempt, CallbackRequest }
