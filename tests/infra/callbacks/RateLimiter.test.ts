/**
 * The sliding-window limiter against real Postgres: concurrent hits from many
 * connections never overshoot the limit, the wait it reports is when the
 * oldest counted event leaves the window, and released events free room.
 * Several buckets are taken all or nothing, in one statement that locks them
 * in name order, so overlapping sets taken in any order never deadlock.
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseRateLimit } from "../../../infra/callbacks/CallbackConfig.ts"
import { hit, release, take } from "../../../infra/callbacks/RateLimiter.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

describe("rate limits", () => {
  let url: string
  let runtime: ManagedRuntime.ManagedRuntime<Effect.Effect.Context<ReturnType<typeof hit>>, unknown>
  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = ManagedRuntime.make(databaseLayer(url, 20))
  })
  afterAll(() => runtime.dispose())

  it("parses count/window and refuses anything else", () => {
    expect(parseRateLimit("3/15m")).toEqual(Either.right({ limit: 3, window: Duration.millis(900_000) }))
    for (const bad of ["3", "0/1h", "x/1h", "3/forever", "3/1h/2", "-1/1h"]) expect(Either.isLeft(parseRateLimit(bad)), bad).toBe(true)
  })

  it("50 concurrent hits on a limit of 7 admit exactly 7, and the refused wait until the oldest leaves the window", async () => {
    const limit = { limit: 7, window: Duration.minutes(10) }
    const decisions = await Promise.all(Array.from({ length: 50 }, () => runtime.runPromise(hit("test:concurrent", limit))))
    expect(decisions.filter((d) => d.allowed)).toHaveLength(7)
    const [row] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM rate_events WHERE bucket = 'test:concurrent'")
    expect(Number(row?.n)).toBe(7)
    for (const d of decisions) {
      if (d.allowed) continue
      const wait = Duration.toMillis(d.retryAfter)
      expect(wait).toBeGreaterThan(590_000)
      expect(wait).toBeLessThanOrEqual(600_000)
    }
  })

  it("several buckets: all or nothing; a full one is named and the wait is the longest of the full ones", async () => {
    const short = { limit: 1, window: Duration.minutes(1) }
    const long = { limit: 1, window: Duration.minutes(10) }
    expect((await runtime.runPromise(take([{ bucket: "test:many:b", limit: long }])))).toEqual({ allowed: true })
    const refused = await runtime.runPromise(take([{ bucket: "test:many:a", limit: short }, { bucket: "test:many:b", limit: long }]))
    expect(refused.allowed).toBe(false)
    if (refused.allowed) return
    expect(refused.bucket).toBe("test:many:b")
    expect(Duration.toMillis(refused.retryAfter)).toBeGreaterThan(590_000)
    // nothing was counted in the bucket that had room
    const [row] = await query<{ n: string }>(url, "SELECT count(*) AS n FROM rate_events WHERE bucket = 'test:many:a'")
    expect(Number(row?.n)).toBe(0)
    expect((await runtime.runPromise(take([{ bucket: "test:many:a", limit: short }]))).allowed).toBe(true)
    const both = await runtime.runPromise(take([{ bucket: "test:many:a", limit: short }, { bucket: "test:many:b", limit: long }]))
    expect(both.allowed === false && Duration.toMillis(both.retryAfter)).toBeGreaterThan(590_000)
  })

  it("60 concurrent takes of overlapping bucket pairs, in both orders, admit exactly each limit and never deadlock", async () => {
    const limit = { limit: 5, window: Duration.minutes(10) }
    const pairs = [["test:pair:x", "test:pair:y"], ["test:pair:y", "test:pair:x"], ["test:pair:y", "test:pair:z"]] as const
    const decisions = await Promise.all(
      Array.from({ length: 60 }, (_, i) => runtime.runPromise(take(pairs[i % 3]!.map((bucket) => ({ bucket, limit })))).then((d) => ({ d, pair: pairs[i % 3]! })))
    )
    const rows = await query<{ bucket: string; n: string }>(url, "SELECT bucket, count(*) AS n FROM rate_events WHERE bucket LIKE 'test:pair:%' GROUP BY bucket")
    const counted = Object.fromEntries(rows.map((r) => [r.bucket, Number(r.n)]))
    // y is in every pair: exactly its limit were admitted, and each admitted take counted in both of its buckets
    expect(decisions.filter(({ d }) => d.allowed)).toHaveLength(5)
    expect(counted["test:pair:y"]).toBe(5)
    const admitted = decisions.filter(({ d }) => d.allowed).flatMap(({ pair }) => pair)
    for (const bucket of ["test:pair:x", "test:pair:z"]) expect(counted[bucket] ?? 0).toBe(admitted.filter((b) => b === bucket).length)
  })

  it("a released event frees its room; other buckets are not affected", async () => {
    const limit = { limit: 1, window: Duration.minutes(1) }
    const ref = crypto.randomUUID()
    expect((await runtime.runPromise(hit("test:release", limit, ref))).allowed).toBe(true)
    expect((await runtime.runPromise(hit("test:release", limit))).allowed).toBe(false)
    expect((await runtime.runPromise(hit("test:other", limit))).allowed).toBe(true)
    await runtime.runPromise(release(ref))
    expect((await runtime.runPromise(hit("test:release", limit))).allowed).toBe(true)
  })
})
