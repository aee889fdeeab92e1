/**
 * The cleanup's statements against real Postgres: only unverified requests past
 * the code's lifetime expire; only finished requests past retention are deleted
 * (with their attempts, code and texts); only rate events and idempotency keys
 * older than their window go, and operational events older than the retention;
 * only the slot leases of calls that ended or are gone are given back.
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TerminalStatuses } from "../../../domain/callbacks/CallbackState.ts"
import { expireUnverified, purgeFinished, purgeIdempotencyKeys, purgeOperationalEvents, purgeRateEvents, releaseEndedCallSlots } from "../../../infra/callbacks/CallbackRetention.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

describe("callback retention", () => {
  let url: string
  let runtime: ManagedRuntime.ManagedRuntime<Effect.Effect.Context<ReturnType<typeof purgeFinished>>, unknown>
  let businessId: string
  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = ManagedRuntime.make(databaseLayer(url, 2))
    businessId = randomUUID()
    await query(url, "INSERT INTO businesses (id, name, phone, timezone) VALUES ($1, 'Acme', '+14155550100', 'UTC')", [businessId])
  })
  afterAll(() => runtime.dispose())

  let phones = 0
  /** A request in `status`, created and (when given) finished that many seconds ago. */
  const request = async (status: string, ages: { readonly createdSecondsAgo?: number; readonly finishedSecondsAgo?: number } = {}) => {
    const id = randomUUID()
    await query(
      url,
      `INSERT INTO callback_requests (id, business_id, phone, status, created_at, finished_at)
       VALUES ($1, $2, $3, $4, now() - make_interval(secs => $5), CASE WHEN $6::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => $6) END)`,
      [id, businessId, `+1415555${String(2000 + phones++)}`, status, ages.createdSecondsAgo ?? 0, ages.finishedSecondsAgo ?? null]
    )
    return id
  }
  const issueCode = (callbackId: string, secondsAgo: number) =>
    query(url, "INSERT INTO verifications (callback_id, code_hash, issued_at) VALUES ($1, 'h', now() - make_interval(secs => $2))", [callbackId, secondsAgo])
  const statusOf = async (id: string) => (await query<{ status: string; finished: boolean }>(url, "SELECT status, finished_at IS NOT NULL AS finished FROM callback_requests WHERE id = $1", [id]))[0]

  it("expires only requests still awaiting a code issued longer ago than the lifetime", async () => {
    const stale = await request("pending_verification")
    await issueCode(stale, 11 * 60)
    const fresh = await request("pending_verification")
    await issueCode(fresh, 60)
    const verified = await request("queued")
    await issueCode(verified, 11 * 60)

    const expired = await runtime.runPromise(expireUnverified(Duration.minutes(10)))

    expect(expired).toEqual([stale])
    expect(await statusOf(stale)).toEqual({ status: "expired", finished: true })
    expect(await statusOf(fresh)).toEqual({ status: "pending_verification", finished: false })
    expect(await statusOf(verified)).toEqual({ status: "queued", finished: false })
    expect(await runtime.runPromise(expireUnverified(Duration.minutes(10)))).toEqual([])
  })

  it("deletes finished requests past retention with their attempts, code and texts; keeps recent and active ones", async () => {
    const day = 86_400
    const old = await Promise.all(TerminalStatuses.map((status) => request(status, { createdSecondsAgo: 40 * day, finishedSecondsAgo: 31 * day })))
    const [withChildren = ""] = old
    await issueCode(withChildren, 40 * day)
    await query(url, "INSERT INTO call_attempts (id, callback_id, n, level, attempt_on_number, to_phone, ring_seconds, from_status) VALUES ($1, $2, 1, 0, 1, '+14155550100', 20, 'queued')", [randomUUID(), withChildren])
    await query(url, "INSERT INTO sms_messages (id, callback_id, kind, to_phone) VALUES ($1, $2, 'verification', '+14155550199')", [randomUUID(), withChildren])
    const recent = await request("completed", { createdSecondsAgo: 40 * day, finishedSecondsAgo: 29 * day })
    const active = await request("retry_scheduled", { createdSecondsAgo: 40 * day })

    expect(await runtime.runPromise(purgeFinished(Duration.days(30)))).toBe(TerminalStatuses.length)

    const left = await query<{ id: string }>(url, "SELECT id FROM callback_requests WHERE id = ANY($1::uuid[])", [[...old, recent, active]])
    expect(left.map((r) => r.id).sort()).toEqual([recent, active].sort())
    for (const table of ["verifications", "call_attempts", "sms_messages"]) {
      expect(await query(url, `SELECT 1 FROM ${table} WHERE callback_id = $1`, [withChildren]), table).toEqual([])
    }
    expect(await runtime.runPromise(purgeFinished(Duration.days(30)))).toBe(0)
  })

  it("gives back only the business slots of calls that ended or are gone", async () => {
    const callback = await request("dialing")
    const attempt = async (ended: boolean) => {
      const id = randomUUID()
      await query(
        url,
        `INSERT INTO call_attempts (id, callback_id, n, level, attempt_on_number, to_phone, ring_seconds, from_status, status, ended_at)
         VALUES ($1, $2, (SELECT coalesce(max(n), 0) + 1 FROM call_attempts WHERE callback_id = $2), 0, 1, '+14155550100', 20, 'queued', $3, $4)`,
        [id, callback, ended ? "completed" : "in-progress", ended ? new Date() : null]
      )
      return id
    }
    const live = await attempt(false)
    const ended = await attempt(true)
    const gone = randomUUID()
    const lease = (holder: string, key = `business:${businessId}`) => query(url, "INSERT INTO job_slot_leases (holder, concurrency_key) VALUES ($1, $2)", [holder, key])
    await lease(live)
    await lease(ended)
    await lease(gone)
    // another key's lease is not the business's to judge
    await lease(randomUUID(), "webhook:elsewhere")

    expect(await runtime.runPromise(releaseEndedCallSlots)).toBe(2)
    const left = await query<{ holder: string }>(url, "SELECT holder FROM job_slot_leases WHERE concurrency_key LIKE 'business:%'")
    expect(left.map((l) => l.holder)).toEqual([live])
    expect(await runtime.runPromise(releaseEndedCallSlots)).toBe(0)
  })

  it("drops rate events older than the window and idempotency keys older than their time to live", async () => {
    await query(url, "INSERT INTO rate_events (bucket, at) VALUES ('r:old', now() - interval '2 hours'), ('r:new', now() - interval '30 minutes')")
    await query(
      url,
      `INSERT INTO idempotency_keys (key, request_hash, status, body, created_at)
       VALUES ('k:old', 'h', 202, 'null', now() - interval '25 hours'), ('k:new', 'h', 202, 'null', now() - interval '23 hours')`
    )

    expect(await runtime.runPromise(purgeRateEvents(Duration.hours(1)))).toBe(1)
    expect(await runtime.runPromise(purgeIdempotencyKeys(Duration.hours(24)))).toBe(1)

    expect(await query(url, "SELECT bucket FROM rate_events WHERE bucket LIKE 'r:%'")).toEqual([{ bucket: "r:new" }])
    expect(await query(url, "SELECT key FROM idempotency_keys WHERE key LIKE 'k:%'")).toEqual([{ key: "k:new" }])
  })

  it("drops only operational events older than the retention", async () => {
    const subject = randomUUID()
    await query(url, "INSERT INTO operational_events (type, subject, at) VALUES ('job.failed', $1, now() - interval '91 days'), ('job.discarded', $1, now() - interval '89 days')", [subject])
    expect(await runtime.runPromise(purgeOperationalEvents(Duration.days(90)))).toBe(1)
    expect(await query(url, "SELECT type FROM operational_events WHERE subject = $1", [subject])).toEqual([{ type: "job.discarded" }])
  })
})
