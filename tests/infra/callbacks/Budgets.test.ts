/**
 * Budgets and the lockout against real Postgres (migrations/0011): the budget
 * settings and their parser; `take` counts in every bucket or in none, never
 * overshoots under concurrent takers, says when the fullest bucket has room,
 * forgets events that left their window; `release` and `handOn`; the
 * exhaustion episode's single operational event; `recordFailure` locks a phone
 * exactly at the threshold of distinct requests, under concurrency too;
 * `takeUnlessLocked` reads the lock with the budget's decision.
 */
import { SqlClient } from "@effect/sql"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { beginWait, type BudgetBucket, bucketsFor, endWait, handOn, noteExhausted, release, take, takeUnlessLocked, usage } from "../../../infra/callbacks/Budgets.ts"
import { CallbackConfig, CallbackConfigLive, parseRateLimits } from "../../../infra/callbacks/CallbackConfig.ts"
import { lockedUntil, recordFailure } from "../../../infra/callbacks/Lockout.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

const loadSettings = (env: Record<string, string>) =>
  Effect.runPromiseExit(Effect.provide(CallbackConfig, CallbackConfigLive).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

const bucket = (name: string, limit: number, window: Duration.DurationInput, scope: BudgetBucket["scope"] = "business"): BudgetBucket => ({
  name,
  scope,
  limit: { limit, window: Duration.decode(window) }
})

describe("budget settings", () => {
  it("parse lists of caps over distinct windows, or off; the defaults are documented ones", async () => {
    expect(parseRateLimits("200/1h, 1000/1d")).toEqual(Either.right([{ limit: 200, window: Duration.hours(1) }, { limit: 1000, window: Duration.days(1) }]))
    expect(parseRateLimits("off")).toEqual(Either.right([]))
    for (const bad of ["200/1h,5/60m", "3", "0/1h", "3/1h,", "x/1d"]) expect(Either.isLeft(parseRateLimits(bad)), bad).toBe(true)
    const exit = await loadSettings({})
    if (!Exit.isSuccess(exit)) throw new Error("the defaults must load")
    const { budgets, lockout } = exit.value
    expect(budgets.sms.business).toEqual([{ limit: 200, window: Duration.hours(1) }, { limit: 1000, window: Duration.days(1) }])
    expect(budgets.sms.account).toEqual([{ limit: 2000, window: Duration.hours(1) }, { limit: 10000, window: Duration.days(1) }])
    expect(budgets.call.business).toEqual([{ limit: 100, window: Duration.hours(1) }, { limit: 500, window: Duration.days(1) }])
    expect(budgets.call.account).toEqual([{ limit: 1000, window: Duration.hours(1) }, { limit: 5000, window: Duration.days(1) }])
    expect(lockout).toEqual({ failures: { limit: 3, window: Duration.hours(24) }, lockFor: Duration.hours(24) })
    expect(bucketsFor(budgets, "call", "b1").map((b) => b.name)).toEqual([
      "budget:call:business:b1:3600000",
      "budget:call:business:b1:86400000",
      "budget:call:account:3600000",
      "budget:call:account:86400000"
    ])
  })

  it.each([
    ["BUDGET_SMS_PER_BUSINESS", "10/1h,20/60m"],
    ["BUDGET_CALLS_ACCOUNT", "many/1d"],
    ["VERIFY_LOCKOUT", "0/24h"],
    ["VERIFY_LOCKOUT_DURATION", "forever"]
  ])("refuse %s=%s at start-up, naming it", async (name, value) => {
    const exit = await loadSettings({ [name]: value })
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain(name)
  })
})

describe("budgets in Postgres", () => {
  let url: string
  let runtime: ManagedRuntime.ManagedRuntime<Effect.Effect.Context<ReturnType<typeof take>>, unknown>
  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = ManagedRuntime.make(databaseLayer(url, 20))
  })
  afterAll(() => runtime.dispose())
  const run = <A, E>(effect: Effect.Effect<A, E, Effect.Effect.Context<ReturnType<typeof take>>>) => runtime.runPromise(effect)
  /** `effect` in a transaction that stays open a while after it, as a create's does: a taker that does not wait for the bucket's lock would read a stale count. */
  const inSlowTransaction = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(Effect.zipLeft(effect, Effect.sleep("20 millis"))))
  const used = async (name: string) => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM budget_events WHERE bucket = $1", [name]))[0]?.n)

  it("50 concurrent takes on a cap of 7 count exactly 7; the refused wait for the oldest to leave the window", async () => {
    const caps = [bucket("t:concurrent", 7, "10 minutes")]
    const decisions = await Promise.all(Array.from({ length: 50 }, () => run(inSlowTransaction(take(caps)))))
    expect(decisions.filter((d) => d.allowed)).toHaveLength(7)
    expect(await used("t:concurrent")).toBe(7)
    const [row] = await query<{ used: number }>(url, "SELECT used FROM budget_buckets WHERE bucket = 't:concurrent'")
    expect(row?.used).toBe(7)
    for (const d of decisions) {
      if (d.allowed) continue
      expect(d.bucket.name).toBe("t:concurrent")
      expect(Duration.toMillis(d.retryAfter)).toBeGreaterThan(590_000)
      expect(Duration.toMillis(d.retryAfter)).toBeLessThanOrEqual(600_000)
    }
  })

  it("counts in every bucket or none, and names the bucket that waits longest", async () => {
    const hour = bucket("t:all:hour", 5, "1 hour")
    const day = bucket("t:all:day", 2, "1 day", "account")
    expect((await run(take([hour, day]))).allowed).toBe(true)
    expect((await run(take([hour, day]))).allowed).toBe(true)
    const refused = await run(take([hour, day]))
    expect(refused.allowed).toBe(false)
    if (!refused.allowed) {
      expect(refused.bucket.name).toBe("t:all:day")
      expect(Duration.toHours(refused.retryAfter)).toBeGreaterThan(23.9)
    }
    // the hour bucket had room, but counted nothing
    expect(await used("t:all:hour")).toBe(2)
    // what the console's overview shows: each bucket's events still in its window
    expect((await run(usage([hour, day, bucket("t:all:never", 3, "1 hour")]))).map((u) => [u.bucket.name, u.used])).toEqual([
      ["t:all:hour", 2],
      ["t:all:day", 2],
      ["t:all:never", 0]
    ])
  })

  it("events that left the window free their room", async () => {
    const caps = [bucket("t:window", 2, "1 second")]
    expect((await run(take(caps))).allowed).toBe(true)
    expect((await run(take(caps))).allowed).toBe(true)
    const refused = await run(take(caps))
    expect(refused.allowed).toBe(false)
    if (!refused.allowed) await new Promise((resolve) => setTimeout(resolve, Duration.toMillis(refused.retryAfter) + 50))
    expect((await run(take(caps))).allowed).toBe(true)
    expect(await used("t:window")).toBe(1)
  })

  it("release takes back what a ref counted; handOn moves one channel's count to another ref", async () => {
    const caps = [bucket("budget:call:business:x:60000", 1, "1 minute")]
    const promised = crypto.randomUUID()
    const attempt = crypto.randomUUID()
    expect((await run(take(caps, promised))).allowed).toBe(true)
    expect((await run(take(caps))).allowed).toBe(false)
    expect(await run(handOn(promised, attempt, "sms"))).toBe(false)
    expect(await run(handOn(promised, attempt, "call"))).toBe(true)
    expect(await run(handOn(promised, attempt, "call"))).toBe(false)
    await run(release(promised))
    expect((await run(take(caps))).allowed).toBe(false)
    await run(release(attempt))
    expect((await run(take(caps))).allowed).toBe(true)
    const [row] = await query<{ used: number }>(url, "SELECT used FROM budget_buckets WHERE bucket = $1", [caps[0]?.name])
    expect(row?.used).toBe(1)
  })

  it("an exhaustion episode records one operational event; a take ends it", async () => {
    const caps = [bucket("t:episode", 1, "1 hour")]
    const businessId = crypto.randomUUID()
    await run(take(caps))
    const exhaustion = { bucket: caps[0] as BudgetBucket, channel: "sms" as const, businessId, retryAt: new Date(), during: "create" }
    expect(await run(noteExhausted(exhaustion))).toBe(true)
    expect(await run(noteExhausted(exhaustion))).toBe(false)
    await query(url, "UPDATE budget_buckets SET used = 0 WHERE bucket = 't:episode'")
    expect((await run(take(caps))).allowed).toBe(true)
    expect(await run(noteExhausted(exhaustion))).toBe(true)
    const events = await query<{ subject: string; data: { scope: string; channel: string; limit: number } }>(
      url,
      "SELECT subject, data FROM operational_events WHERE type = 'budget.exhausted' AND business_id = $1",
      [businessId]
    )
    expect(events).toHaveLength(2)
    expect(events[0]).toMatchObject({ subject: businessId, data: { scope: "business", channel: "sms", limit: 1 } })
  })

  it("a request's wait for a budget begins once until it ends", async () => {
    const [business] = await query<{ id: string }>(url, "INSERT INTO businesses (id, name, phone, timezone) VALUES (gen_random_uuid(), 'B', '+14155550000', 'UTC') RETURNING id")
    const [request] = await query<{ id: string }>(
      url,
      "INSERT INTO callback_requests (id, business_id, phone, status) VALUES (gen_random_uuid(), $1, '+14155550001', 'pending_verification') RETURNING id",
      [business?.id]
    )
    const id = request?.id ?? ""
    expect(await run(beginWait(id, "call"))).toBe(true)
    expect(await run(beginWait(id, "call"))).toBe(false)
    expect(await run(beginWait(id, "sms"))).toBe(true)
    await run(endWait(id, "call"))
    expect(await run(beginWait(id, "call"))).toBe(true)
  })

  it("a phone is locked at its 3rd distinct failed request in the window, exactly once under concurrency", async () => {
    const policy = { failures: { limit: 3, window: Duration.hours(24) }, lockFor: Duration.hours(24) }
    const phone = "+14155557001"
    const businessId = crypto.randomUUID()
    const first = crypto.randomUUID()
    expect(Option.isNone(await run(recordFailure({ phone, callbackId: first, businessId }, policy)))).toBe(true)
    // the same request again does not count twice
    expect(Option.isNone(await run(recordFailure({ phone, callbackId: first, businessId }, policy)))).toBe(true)
    expect(Option.isNone(await run(lockedUntil(phone)))).toBe(true)
    const results = await Promise.all(Array.from({ length: 7 }, () => run(inSlowTransaction(recordFailure({ phone, callbackId: crypto.randomUUID(), businessId }, policy)))))
    // the lock clears the count: of 7 concurrent failures, the 2nd locks and the 5th locks again (3 fresh ones)
    expect(results.filter(Option.isSome)).toHaveLength(2)
    const until = await run(lockedUntil(phone))
    expect(Option.isSome(until) && until.value.getTime() - Date.now()).toBeGreaterThan(23.9 * 3_600_000)
    expect(Option.isNone(await run(lockedUntil("+14155557002")))).toBe(true)
    const locks = await query(url, "SELECT subject FROM operational_events WHERE type = 'phone.locked' AND business_id = $1", [businessId])
    expect(locks).toHaveLength(2)
  })

  it("takeUnlessLocked: the budget's decision and the phone's lock in one statement, with or without buckets", async () => {
    const policy = { failures: { limit: 1, window: Duration.hours(1) }, lockFor: Duration.hours(1) }
    const [free, locked] = ["+14155557011", "+14155557012"]
    await run(recordFailure({ phone: locked, callbackId: crypto.randomUUID(), businessId: crypto.randomUUID() }, policy))
    const caps = [bucket("t:unless-locked", 1, "1 hour")]
    const first = await run(takeUnlessLocked(free, caps))
    expect(first).toEqual({ lockedUntil: Option.none(), decision: { allowed: true } })
    const full = await run(takeUnlessLocked(free, caps))
    expect(Option.isNone(full.lockedUntil)).toBe(true)
    expect(full.decision.allowed === false && full.decision.bucket.name).toBe("t:unless-locked")
    const lockedOut = await run(takeUnlessLocked(locked, []))
    expect(Option.isSome(lockedOut.lockedUntil) && lockedOut.lockedUntil.value.getTime() - Date.now()).toBeGreaterThan(0.9 * 3_600_000)
    expect(lockedOut.decision).toEqual({ allowed: true })
    expect((await run(takeUnlessLocked(free, []))).lockedUntil).toEqual(Option.none())
    expect(await used("t:unless-locked")).toBe(1)
  })
})
