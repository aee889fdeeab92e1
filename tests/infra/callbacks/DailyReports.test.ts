/**
 * The daily report's statements against real Postgres: a day is UTC midnight
 * to midnight (a row a second either side does not count), each final status
 * is counted by when the request finished, and storing a day again replaces it.
 */
import type * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { storeReport, summariseDay } from "../../../infra/callbacks/DailyReports.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

const DAY = "2030-05-10"
const before = "2030-05-09T23:59:59Z"
const start = "2030-05-10T00:00:00Z"
const midday = "2030-05-10T12:00:00Z"
const last = "2030-05-10T23:59:59Z"
const after = "2030-05-11T00:00:00Z"

describe("daily reports", () => {
  let url: string
  let runtime: ManagedRuntime.ManagedRuntime<Effect.Effect.Context<ReturnType<typeof summariseDay>>, unknown>
  let businessId: string
  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = ManagedRuntime.make(databaseLayer(url, 2))
    businessId = randomUUID()
    await query(url, "INSERT INTO businesses (id, name, phone, timezone) VALUES ($1, 'Acme', '+14155550100', 'UTC')", [businessId])
  })
  afterAll(() => runtime.dispose())

  let phones = 0
  const request = async (status: string, createdAt: string, finishedAt: string | null = null) => {
    const id = randomUUID()
    await query(url, "INSERT INTO callback_requests (id, business_id, phone, status, created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6)", [
      id,
      businessId,
      `+1415555${String(3000 + phones++)}`,
      status,
      createdAt,
      finishedAt
    ])
    return id
  }
  let attempts = 0
  const attempt = (callbackId: string, startedAt: string, answered: boolean) =>
    query(
      url,
      "INSERT INTO call_attempts (id, callback_id, n, level, attempt_on_number, to_phone, ring_seconds, from_status, answered, started_at) VALUES ($1, $2, $3, 0, 1, '+14155550100', 20, 'queued', $4, $5)",
      [randomUUID(), callbackId, ++attempts, answered, startedAt]
    )
  const text = (callbackId: string, createdAt: string, sid: string | null) =>
    query(url, "INSERT INTO sms_messages (id, callback_id, kind, to_phone, sid, created_at) VALUES ($1, $2, 'verification', '+14155550199', $3, $4)", [
      randomUUID(),
      callbackId,
      sid,
      createdAt
    ])

  it("counts what the UTC day saw, and only that day", async () => {
    const a = await request("completed", before, start) // created the day before, finished on the day
    const b = await request("completed", start, after) // created on the day, finished the day after
    await request("failed", midday, last)
    await request("failed", before, before)
    await request("expired", last, last)
    await request("cancelled", midday, midday) // not a status the report counts
    await request("queued", after)
    await attempt(a, before, true)
    await attempt(a, start, true)
    await attempt(b, last, false)
    await attempt(b, after, true)
    await text(a, midday, "SM1")
    await text(a, midday, null) // never sent
    await text(b, after, "SM2")

    expect(await runtime.runPromise(summariseDay(DAY))).toEqual({
      day: DAY,
      created: 4,
      completed: 1,
      failed: 1,
      expired: 1,
      callAttempts: 2,
      answeredAttempts: 1,
      textsSent: 1
    })
    expect((await runtime.runPromise(summariseDay("2030-05-12"))).created).toBe(0)
  })

  it("stores a day's summary, and a second summary of the day replaces the first", async () => {
    const first = { day: "2030-06-01", created: 1, completed: 0, failed: 0, expired: 0, callAttempts: 0, answeredAttempts: 0, textsSent: 0 }
    await runtime.runPromise(storeReport(first))
    await runtime.runPromise(storeReport({ ...first, created: 7 }))
    const rows = await query<{ day: string; summary: unknown }>(url, "SELECT day::text AS day, summary FROM daily_reports WHERE day = '2030-06-01'")
    expect(rows).toEqual([{ day: "2030-06-01", summary: { ...first, created: 7 } }])
  })
})
