/**
 * The sliding-window limiter against real Postgres: concurrent hits from many
 * connections never overshoot the limit, the wait it reports is when the
 * oldest counted event leaves the window, and released events free room.
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseRateLimit } from "../../../infra/callbacks/CallbackConfig.ts"
import { hit, release } from "../../../infra/callbacks/RateLimiter.ts"
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
