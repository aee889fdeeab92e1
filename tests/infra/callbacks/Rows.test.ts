/**
 * Rows decode through the domain schemas: columns as `pg` returns them become
 * the domain's values (nulls absent, jsonb as given) and encode back to the
 * same row; a row the domain refuses (an unknown status, a malformed phone or
 * plan) does not decode, and `decodeRow` makes that a defect.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { describe, expect, it } from "vitest"
import { AttemptRow, AttemptWithOriginRow, BusinessRow, decodeRow, RequestRow, VerificationRow } from "../../../infra/callbacks/Rows.ts"

const at = new Date("2026-03-01T10:00:00.000Z")
const later = new Date("2026-03-01T10:05:00.000Z")

const businessRow = {
  id: "0b6f2c1e-8a44-4f7e-9a59-0d5b8d1b2a10",
  name: "Acme",
  phone: "+14155550100",
  timezone: "Europe/Berlin",
  country: null,
  hours: { mon: [["09:00", "17:00"]] },
  escalation: [{ phone: "+14155550101", ringSeconds: 20 }],
  after_hours: [{ phone: "+14155550102", ringSeconds: 30 }],
  ring_seconds: 25,
  max_concurrent_calls: 2,
  vip_phones: ["+14155550199"],
  sms_fallback: true,
  allowed_origins: ["https://shop.example", "http://localhost:8080"],
  created_at: at,
  updated_at: later
}

const requestRow = {
  id: "6d1c3c1a-5b0e-4a55-8f0c-7b0c2b1f8e21",
  business_id: businessRow.id,
  phone: "+4915112345678",
  name: "Ada",
  note: null,
  status: "retry_scheduled",
  priority: "high",
  department: "billing",
  routes: 1,
  after_hours: true,
  escalation_level: 1,
  attempt_on_number: 2,
  current_attempt_id: null,
  next_attempt_at: later,
  scheduled_for: null,
  window_start: at,
  window_end: later,
  generation: 0,
  traceparent: null,
  created_at: at,
  updated_at: later,
  finished_at: null,
  // columns the domain does not carry are ignored
  circuit_notice_at: null
}

const attemptRow = {
  id: "9a7d0f4e-2c3b-4d1a-8e6f-5a4b3c2d1e0f",
  callback_id: requestRow.id,
  n: 3,
  level: 1,
  attempt_on_number: 2,
  to_phone: "+14155550101",
  ring_seconds: 20,
  from_status: "retry_scheduled",
  status: "no-answer",
  call_sid: "CA0123456789abcdef0123456789abcdef",
  last_sequence: 4,
  answered: false,
  error: null,
  started_at: at,
  ended_at: later
}

const decode = <A, I>(schema: Schema.Schema<A, I>, row: unknown) => Schema.decodeUnknownSync(schema)(row)

describe("callback rows", () => {
  it("decode into the domain's values and encode back to the same row", () => {
    const business = decode(BusinessRow, businessRow)
    expect(business).toMatchObject({ id: businessRow.id, country: undefined, hours: { mon: [["09:00", "17:00"]] }, ringSeconds: 25, maxConcurrentCalls: 2, allowedOrigins: ["https://shop.example", "http://localhost:8080"], updatedAt: later })
    expect(Schema.encodeSync(BusinessRow)(business)).toEqual(businessRow)

    const request = decode(RequestRow, requestRow)
    expect(request).toMatchObject({ businessId: businessRow.id, status: "retry_scheduled", priority: "high", note: undefined, nextAttemptAt: later, finishedAt: undefined })
    const { circuit_notice_at: _, ...columns } = requestRow
    expect(Schema.encodeSync(RequestRow)(request)).toEqual(columns)

    const attempt = decode(AttemptRow, attemptRow)
    expect(attempt).toMatchObject({ callbackId: requestRow.id, to: "+14155550101", status: "no-answer", callSid: attemptRow.call_sid, error: undefined, endedAt: later })
    expect(attempt).not.toHaveProperty("fromStatus")
    expect(decode(AttemptWithOriginRow, attemptRow)).toEqual({ ...attempt, fromStatus: "retry_scheduled" })
    expect(Schema.encodeSync(AttemptWithOriginRow)(decode(AttemptWithOriginRow, attemptRow))).toEqual(attemptRow)

    const verification = { code_hash: null, issued_at: at, checks: 2, used_at: later, sends: [at, later] }
    expect(decode(VerificationRow, verification)).toEqual({ codeHash: undefined, issuedAt: at, checks: 2, usedAt: later, sends: [at, later] })
  })

  it("refuse a row the domain refuses: unknown statuses, malformed phones and plans, strings for dates", () => {
    const refused: ReadonlyArray<readonly [Schema.Schema.AnyNoContext, unknown, string]> = [
      [RequestRow, { ...requestRow, status: "on_hold" }, "on_hold"],
      [RequestRow, { ...requestRow, priority: "urgent" }, "urgent"],
      [RequestRow, { ...requestRow, phone: "015112345678" }, "phone"],
      [RequestRow, { ...requestRow, created_at: "2026-03-01T10:00:00Z" }, "created_at"],
      [AttemptRow, { ...attemptRow, status: "ringing-ish" }, "ringing-ish"],
      [AttemptWithOriginRow, { ...attemptRow, from_status: "paused" }, "paused"],
      [BusinessRow, { ...businessRow, escalation: [{ phone: "+14155550101", ringSeconds: 2 }] }, "ringSeconds"],
      [BusinessRow, { ...businessRow, hours: { mon: [["17:00", "09:00"]] } }, "mon"],
      [BusinessRow, { ...businessRow, allowed_origins: ["https://shop.example/checkout"] }, "origin"]
    ]
    for (const [schema, row, named] of refused) {
      const result = Schema.decodeUnknownEither(schema)(row)
      expect(result._tag, named).toBe("Left")
      if (result._tag === "Left") expect(result.left.message).toContain(named)
    }
  })

  it("decodeRow makes a row that does not decode a defect, naming the row and the value", () => {
    const exit = Effect.runSyncExit(decodeRow(RequestRow)({ ...requestRow, status: "on_hold" }))
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toMatch(/CallbackRequestRow[\s\S]*on_hold/)
    expect(Effect.runSync(decodeRow(RequestRow)(requestRow)).status).toBe("retry_scheduled")
  })
})
