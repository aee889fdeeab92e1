/** Rows of the callback tables (migrations/0002_callbacks.sql) and their domain values. */
import type { Business, CallAttempt, CallbackPriority, CallbackRequest } from "../../domain/callbacks/Business.ts"
import type { CallbackStatus } from "../../domain/callbacks/CallbackState.ts"
import type { PlanStep } from "../../domain/callbacks/EscalationPlan.ts"

export interface BusinessRow {
  readonly id: string
  readonly name: string
  readonly phone: string
  readonly timezone: string
  readonly country: string | null
  readonly hours: Business["hours"] | null
  readonly escalation: ReadonlyArray<PlanStep>
  readonly ring_seconds: number
  readonly max_concurrent_calls: number
  readonly vip_phones: ReadonlyArray<string>
  readonly sms_fallback: boolean
  readonly created_at: Date
  readonly updated_at: Date
}

export const businessOf = (row: BusinessRow): Business => ({
  id: row.id,
  name: row.name,
  phone: row.phone,
  timezone: row.timezone,
  country: row.country ?? undefined,
  hours: row.hours ?? undefined,
  escalation: row.escalation,
  ringSeconds: row.ring_seconds,
  maxConcurrentCalls: row.max_concurrent_calls,
  vipPhones: row.vip_phones,
  smsFallback: row.sms_fallback,
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

export interface RequestRow {
  readonly id: string
  readonly business_id: string
  readonly phone: string
  readonly name: string | null
  readonly note: string | null
  readonly status: CallbackStatus
  readonly priority: CallbackPriority
  readonly escalation_level: number
  readonly attempt_on_number: number
  readonly current_attempt_id: string | null
  readonly next_attempt_at: Date | null
  readonly scheduled_for: Date | null
  readonly generation: number
  readonly traceparent: string | null
  readonly created_at: Date
  readonly updated_at: Date
  readonly finished_at: Date | null
}

export const requestOf = (row: RequestRow): CallbackRequest => ({
  id: row.id,
  businessId: row.business_id,
  phone: row.phone,
  name: row.name ?? undefined,
  note: row.note ?? undefined,
  status: row.status,
  priority: row.priority,
  escalationLevel: row.escalation_level,
  attemptOnNumber: row.attempt_on_number,
  currentAttemptId: row.current_attempt_id ?? undefined,
  nextAttemptAt: row.next_attempt_at ?? undefined,
  scheduledFor: row.scheduled_for ?? undefined,
  generation: row.generation,
  traceparent: row.traceparent ?? undefined,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  finishedAt: row.finished_at ?? undefined
})

export interface AttemptRow {
  readonly id: string
  readonly callback_id: string
  readonly n: number
  readonly level: number
  readonly attempt_on_number: number
  readonly to_phone: string
  readonly ring_seconds: number
  readonly from_status: CallbackStatus
  readonly status: string
  readonly call_sid: string | null
  readonly last_sequence: number
  readonly answered: boolean
  readonly error: string | null
  readonly started_at: Date
  readonly ended_at: Date | null
}

export const attemptOf = (row: AttemptRow): CallAttempt => ({
  id: row.id,
  callbackId: row.callback_id,
  n: row.n,
  level: row.level,
  attemptOnNumber: row.attempt_on_number,
  to: row.to_phone,
  ringSeconds: row.ring_seconds,
  status: row.status as CallAttempt["status"],
  callSid: row.call_sid ?? undefined,
  lastSequence: row.last_sequence,
  answered: row.answered,
  error: row.error ?? undefined,
  startedAt: row.started_at,
  endedAt: row.ended_at ?? undefined
})
