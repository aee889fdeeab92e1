/**
 * Rows of the callback tables (migrations/0002_callbacks.sql) as schemas, each
 * transformed into the Type of its domain schema (domain/callbacks/Business.ts).
 *
 * A row schema describes the columns as `pg` returns them: snake_case, `Date`
 * for timestamptz, `null` for absent, jsonb already parsed, integers as
 * numbers. Decoding checks the whole value against the domain schema, so a
 * status outside its literal union (statuses are text columns), a malformed
 * phone or plan fails loudly instead of flowing on as a wrong type.
 *
 * A row that does not decode is a defect (`decodeRow`), not a `DatabaseError`:
 * the database answered, and what it holds contradicts the code's model (a
 * migration or a writer out of step with the schemas). No caller can recover
 * from that, a retry reads the same row, and a `DatabaseError` would be taken
 * for an outage or a failed statement; the defect carries the parse error,
 * which names the row schema, the column and the value.
 */
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { AttemptStatus, Business, CallAttempt, CallbackPriority, CallbackRequest, Hours, PlanStep } from "../../domain/callbacks/Business.ts"
import { CallFlow, FlowVersion } from "../../domain/callbacks/CallFlow.ts"
import { CallbackStatus } from "../../domain/callbacks/CallbackState.ts"
import { Department } from "../../domain/callbacks/Department.ts"

const Timestamptz = Schema.DateFromSelf
const nullable = <S extends Schema.Schema.Any>(schema: S) => Schema.NullOr(schema)
/** `null` (absent) as `undefined`, and back. */
const absent = <A>(value: A | null): A | undefined => value ?? undefined
const orNull = <A>(value: A | undefined): A | null => value ?? null

const BusinessColumns = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  phone: Schema.String,
  timezone: Schema.String,
  country: nullable(Schema.String),
  hours: nullable(Schema.typeSchema(Hours)),
  escalation: Schema.Array(Schema.typeSchema(PlanStep)),
  after_hours: Schema.Array(Schema.typeSchema(PlanStep)),
  ring_seconds: Schema.Number,
  max_concurrent_calls: Schema.Number,
  vip_phones: Schema.Array(Schema.String),
  sms_fallback: Schema.Boolean,
  allowed_origins: Schema.Array(Schema.String),
  created_at: Timestamptz,
  updated_at: Timestamptz
}).annotations({ identifier: "BusinessRow" })

/** A `businesses` row as a {@link Business}. */
export const BusinessRow = Schema.transform(BusinessColumns, Schema.typeSchema(Business), {
  strict: true,
  decode: (row) => ({
    id: row.id,
    name: row.name,
    phone: row.phone,
    timezone: row.timezone,
    country: absent(row.country),
    hours: absent(row.hours),
    escalation: row.escalation,
    afterHours: row.after_hours,
    ringSeconds: row.ring_seconds,
    maxConcurrentCalls: row.max_concurrent_calls,
    vipPhones: row.vip_phones,
    smsFallback: row.sms_fallback,
    allowedOrigins: row.allowed_origins,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }),
  encode: (business) => ({
    id: business.id,
    name: business.name,
    phone: business.phone,
    timezone: business.timezone,
    country: orNull(business.country),
    hours: orNull(business.hours),
    escalation: business.escalation,
    after_hours: business.afterHours,
    ring_seconds: business.ringSeconds,
    max_concurrent_calls: business.maxConcurrentCalls,
    vip_phones: business.vipPhones,
    sms_fallback: business.smsFallback,
    allowed_origins: business.allowedOrigins,
    created_at: business.createdAt,
    updated_at: business.updatedAt
  })
})

const DepartmentColumns = Schema.Struct({
  business_id: Schema.String,
  key: Schema.String,
  name: Schema.String,
  phone: Schema.String,
  ring_seconds: Schema.Number,
  escalation: Schema.Array(Schema.typeSchema(PlanStep)),
  hours: nullable(Schema.typeSchema(Hours)),
  after_hours: Schema.Array(Schema.typeSchema(PlanStep)),
  max_concurrent_calls: Schema.Number,
  created_at: Timestamptz,
  updated_at: Timestamptz
}).annotations({ identifier: "DepartmentRow" })

/** A `departments` row as a {@link Department}. */
export const DepartmentRow = Schema.transform(DepartmentColumns, Schema.typeSchema(Department), {
  strict: true,
  decode: (row) => ({
    businessId: row.business_id,
    key: row.key,
    name: row.name,
    phone: row.phone,
    ringSeconds: row.ring_seconds,
    escalation: row.escalation,
    hours: absent(row.hours),
    afterHours: row.after_hours,
    maxConcurrentCalls: row.max_concurrent_calls,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }),
  encode: (department) => ({
    business_id: department.businessId,
    key: department.key,
    name: department.name,
    phone: department.phone,
    ring_seconds: department.ringSeconds,
    escalation: department.escalation,
    hours: orNull(department.hours),
    after_hours: department.afterHours,
    max_concurrent_calls: department.maxConcurrentCalls,
    created_at: department.createdAt,
    updated_at: department.updatedAt
  })
})

const RequestColumns = Schema.Struct({
  id: Schema.String,
  business_id: Schema.String,
  phone: Schema.String,
  name: nullable(Schema.String),
  note: nullable(Schema.String),
  status: CallbackStatus,
  priority: CallbackPriority,
  department: Schema.String,
  routes: Schema.Number,
  after_hours: Schema.Boolean,
  escalation_level: Schema.Number,
  attempt_on_number: Schema.Number,
  current_attempt_id: nullable(Schema.String),
  next_attempt_at: nullable(Timestamptz),
  scheduled_for: nullable(Timestamptz),
  window_start: nullable(Timestamptz),
  window_end: nullable(Timestamptz),
  generation: Schema.Number,
  traceparent: nullable(Schema.String),
  created_at: Timestamptz,
  updated_at: Timestamptz,
  finished_at: nullable(Timestamptz)
}).annotations({ identifier: "CallbackRequestRow" })

/** A `callback_requests` row as a {@link CallbackRequest} (`circuit_notice_at` stays in the database). */
export const RequestRow = Schema.transform(RequestColumns, Schema.typeSchema(CallbackRequest), {
  strict: true,
  decode: (row) => ({
    id: row.id,
    businessId: row.business_id,
    phone: row.phone,
    name: absent(row.name),
    note: absent(row.note),
    status: row.status,
    priority: row.priority,
    department: row.department,
    routes: row.routes,
    afterHours: row.after_hours,
    escalationLevel: row.escalation_level,
    attemptOnNumber: row.attempt_on_number,
    currentAttemptId: absent(row.current_attempt_id),
    nextAttemptAt: absent(row.next_attempt_at),
    scheduledFor: absent(row.scheduled_for),
    window: row.window_start === null || row.window_end === null ? undefined : { start: row.window_start, end: row.window_end },
    generation: row.generation,
    traceparent: absent(row.traceparent),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: absent(row.finished_at)
  }),
  encode: (request) => ({
    id: request.id,
    business_id: request.businessId,
    phone: request.phone,
    name: orNull(request.name),
    note: orNull(request.note),
    status: request.status,
    priority: request.priority,
    department: request.department,
    routes: request.routes,
    after_hours: request.afterHours,
    escalation_level: request.escalationLevel,
    attempt_on_number: request.attemptOnNumber,
    current_attempt_id: orNull(request.currentAttemptId),
    next_attempt_at: orNull(request.nextAttemptAt),
    scheduled_for: orNull(request.scheduledFor),
    window_start: request.window?.start ?? null,
    window_end: request.window?.end ?? null,
    generation: request.generation,
    traceparent: orNull(request.traceparent),
    created_at: request.createdAt,
    updated_at: request.updatedAt,
    finished_at: orNull(request.finishedAt)
  })
})

const attemptColumns = {
  id: Schema.String,
  callback_id: Schema.String,
  n: Schema.Number,
  level: Schema.Number,
  attempt_on_number: Schema.Number,
  to_phone: Schema.String,
  ring_seconds: Schema.Number,
  status: AttemptStatus,
  call_sid: nullable(Schema.String),
  last_sequence: Schema.Number,
  answered: Schema.Boolean,
  error: nullable(Schema.String),
  started_at: Timestamptz,
  ended_at: nullable(Timestamptz)
}
const AttemptColumns = Schema.Struct(attemptColumns).annotations({ identifier: "CallAttemptRow" })
type AttemptColumns = typeof AttemptColumns.Type

const attemptOf = (row: AttemptColumns) => ({
  id: row.id,
  callbackId: row.callback_id,
  n: row.n,
  level: row.level,
  attemptOnNumber: row.attempt_on_number,
  to: row.to_phone,
  ringSeconds: row.ring_seconds,
  status: row.status,
  callSid: absent(row.call_sid),
  lastSequence: row.last_sequence,
  answered: row.answered,
  error: absent(row.error),
  startedAt: row.started_at,
  endedAt: absent(row.ended_at)
})

const columnsOf = (attempt: CallAttempt): AttemptColumns => ({
  id: attempt.id,
  callback_id: attempt.callbackId,
  n: attempt.n,
  level: attempt.level,
  attempt_on_number: attempt.attemptOnNumber,
  to_phone: attempt.to,
  ring_seconds: attempt.ringSeconds,
  status: attempt.status,
  call_sid: orNull(attempt.callSid),
  last_sequence: attempt.lastSequence,
  answered: attempt.answered,
  error: orNull(attempt.error),
  started_at: attempt.startedAt,
  ended_at: orNull(attempt.endedAt)
})

/** A `call_attempts` row as a {@link CallAttempt}. */
export const AttemptRow = Schema.transform(AttemptColumns, Schema.typeSchema(CallAttempt), { strict: true, decode: attemptOf, encode: columnsOf })

/** An attempt with the request's status before it (`from_status`), where a take-back returns the request to. */
export const AttemptWithOrigin = Schema.extend(Schema.typeSchema(CallAttempt), Schema.Struct({ fromStatus: CallbackStatus }))
export type AttemptWithOrigin = typeof AttemptWithOrigin.Type

/** A `call_attempts` row as an {@link AttemptWithOrigin}. */
export const AttemptWithOriginRow = Schema.transform(
  Schema.Struct({ ...attemptColumns, from_status: CallbackStatus }).annotations({ identifier: "CallAttemptRow" }),
  AttemptWithOrigin,
  {
    strict: true,
    decode: (row) => ({ ...attemptOf(row), fromStatus: row.from_status }),
    encode: (attempt) => ({ ...columnsOf(attempt), from_status: attempt.fromStatus })
  }
)

/** A `call_flows` row as a {@link FlowVersion}: the flow is checked against its schema again, so a stored flow that no longer validates is a defect, not a call played wrong. */
export const FlowVersionRow = Schema.transform(
  Schema.Struct({ department: Schema.String, version: Schema.Number, flow: CallFlow, created_at: Timestamptz }).annotations({ identifier: "CallFlowRow" }),
  Schema.typeSchema(FlowVersion),
  {
    strict: true,
    decode: (row) => ({ department: row.department, version: row.version, flow: row.flow, createdAt: row.created_at }),
    encode: (v) => ({ department: v.department, version: v.version, flow: v.flow, created_at: v.createdAt ?? new Date(0) })
  }
)

/** A request's code, as the verification policy (domain/callbacks/Verification.ts) reads it. */
export const VerificationRecord = Schema.Struct({
  /** The hash of the code in force; none before the first is drawn and once it was used or replaced. */
  codeHash: Schema.optional(Schema.String),
  issuedAt: Timestamptz,
  checks: Schema.Int,
  usedAt: Schema.optional(Timestamptz),
  /** When each code was sent (the first and every resend). */
  sends: Schema.Array(Timestamptz)
}).annotations({ identifier: "VerificationRecord" })
export type VerificationRecord = typeof VerificationRecord.Type

/** A `verifications` row (without its `callback_id`) as a {@link VerificationRecord}. */
export const VerificationRow = Schema.transform(
  Schema.Struct({
    code_hash: nullable(Schema.String),
    issued_at: Timestamptz,
    checks: Schema.Number,
    used_at: nullable(Timestamptz),
    sends: Schema.Array(Timestamptz)
  }).annotations({ identifier: "VerificationRow" }),
  VerificationRecord,
  {
    strict: true,
    decode: (row) => ({ codeHash: absent(row.code_hash), issuedAt: row.issued_at, checks: row.checks, usedAt: absent(row.used_at), sends: row.sends }),
    encode: (v) => ({ code_hash: orNull(v.codeHash), issued_at: v.issuedAt, checks: v.checks, used_at: orNull(v.usedAt), sends: v.sends })
  }
)

/**
 * Decodes a row through `schema`; a row that does not decode is a defect (see
 * the module's header). Columns the schema does not name are ignored.
 */
export const decodeRow =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (row: unknown): Effect.Effect<A> =>
    Effect.orDie(Schema.decodeUnknown(schema)(row))

/**
 * Decodes every row of a result, each through `schema` itself: its compiled
 * parser is cached by the schema, whereas a `Schema.Array(schema)` made per
 * call would be compiled again for every query (about 1.7 times the cost).
 */
export const decodeRows =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>> =>
    Effect.forEach(rows, decodeRow(schema))

/** Decodes the first row of a result, if any. */
export const decodeFirst =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (rows: ReadonlyArray<unknown>): Effect.Effect<Option.Option<A>> =>
    rows.length === 0 ? Effect.succeedNone : Effect.asSome(decodeRow(schema)(rows[0]))
