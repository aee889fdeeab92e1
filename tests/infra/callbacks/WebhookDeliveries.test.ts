/**
 * Twilio's webhook tokens against real Postgres: a token is recorded once; the
 * effect of a delivery and its token commit together (a failed effect leaves
 * no token, so the retry applies); a retry racing the first try waits for it
 * and then changes nothing; only tokens past their 24 hours are purged.
 */
import { SqlClient } from "@effect/sql"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { purgeWebhookDeliveries } from "../../../infra/callbacks/CallbackRetention.ts"
import { oncePerDelivery, recordDelivery } from "../../../infra/callbacks/WebhookDeliveries.ts"
import { Transaction } from "../../../infra/db/Transaction.ts"
import { Metrics } from "../../../infra/observability/Metrics.ts"
import { cloneDatabase, databaseLayer, eventually, query } from "../../support/database.ts"

const ROUTE = "/twilio/status/call/:attemptId"

describe("webhook deliveries", () => {
  let url: string
  let runtime: ManagedRuntime.ManagedRuntime<Transaction | Metrics | SqlClient.SqlClient, unknown>
  beforeAll(async () => {
    url = await cloneDatabase()
    runtime = ManagedRuntime.make(Layer.mergeAll(Transaction.Default, Metrics.Default).pipe(Layer.provideMerge(databaseLayer(url, 4))))
    // what a delivery does, seen from outside: one row per application
    await query(url, "CREATE TABLE applied (token text NOT NULL)")
  })
  afterAll(() => runtime.dispose())

  /** What a delivery does, as the use cases do it: a statement on the ambient connection, so it joins the transaction. */
  const apply = (token: string) => Effect.asVoid(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO applied (token) VALUES (${token})`))
  const applications = async (token: string) => (await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM applied WHERE token = $1", [token]))[0]?.n ?? 0
  const recorded = async (token: string) => (await query(url, "SELECT 1 FROM webhook_deliveries WHERE token = $1", [token])).length
  const retriesOn = async (route: string) =>
    (await runtime.runPromise(Effect.flatMap(Metrics, (m) => Effect.promise(() => m.twilioWebhookRetries.get())))).values.find((v) => v.labels.route === route)?.value ?? 0

  it("records a token once: true the first time, false after", async () => {
    const token = randomUUID()
    expect(await runtime.runPromise(recordDelivery(token, ROUTE))).toBe(true)
    expect(await runtime.runPromise(recordDelivery(token, ROUTE))).toBe(false)
    expect(await query(url, "SELECT route FROM webhook_deliveries WHERE token = $1", [token])).toEqual([{ route: ROUTE }])
  })

  it("a delivery applies once; its retries run nothing and are counted; without a token it applies every time", async () => {
    const token = randomUUID()
    const before = await retriesOn(ROUTE)
    expect(await runtime.runPromise(oncePerDelivery({ token, route: ROUTE }, Effect.as(apply(token), "done")))).toEqual(Option.some("done"))
    expect(await runtime.runPromise(oncePerDelivery({ token, route: ROUTE }, Effect.as(apply(token), "done")))).toEqual(Option.none())
    expect(await runtime.runPromise(oncePerDelivery({ token, route: ROUTE }, Effect.as(apply(token), "done")))).toEqual(Option.none())
    expect(await applications(token)).toBe(1)
    expect(await retriesOn(ROUTE)).toBe(before + 2)

    const untokened = randomUUID()
    for (let i = 0; i < 2; i++) await runtime.runPromise(oncePerDelivery(undefined, apply(untokened)))
    expect(await applications(untokened)).toBe(2)
    expect(await retriesOn(ROUTE)).toBe(before + 2)
  })

  it("the token and the effect commit together: an effect that fails leaves no token, and the retry applies", async () => {
    const token = randomUUID()
    const failing = Effect.zipRight(apply(token), Effect.fail("crashed" as const))
    expect(await runtime.runPromise(Effect.flip(oncePerDelivery({ token, route: ROUTE }, failing)))).toBe("crashed")
    // neither the token nor the effect's statement survived
    expect(await recorded(token)).toBe(0)
    expect(await applications(token)).toBe(0)
    expect(await runtime.runPromise(oncePerDelivery({ token, route: ROUTE }, apply(token)))).toEqual(Option.some(undefined))
    expect(await recorded(token)).toBe(1)
    expect(await applications(token)).toBe(1)
  })

  it("a retry racing the first try waits for its commit, then changes nothing", async () => {
    const token = randomUUID()
    const before = await retriesOn(ROUTE)
    const outcome = await runtime.runPromise(
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // the first try records its token, does its work, and holds its transaction open until released
        const first = yield* Effect.fork(
          oncePerDelivery({ token, route: ROUTE }, Effect.zipRight(apply(token), Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release))))
        )
        yield* Deferred.await(started)
        const second = yield* Effect.fork(oncePerDelivery({ token, route: ROUTE }, apply(`${token}:second`)))
        // the retry's insert waits on the first try's uncommitted token
        yield* Effect.promise(() =>
          eventually(
            async () => ((await query(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%webhook_deliveries%'")).length > 0 ? true : undefined),
            10_000,
            "the retry to wait on the first try's token"
          )
        )
        yield* Deferred.succeed(release, undefined)
        return { first: yield* Fiber.join(first), second: yield* Fiber.join(second) }
      })
    )
    expect(outcome.first).toEqual(Option.some(undefined))
    expect(outcome.second).toEqual(Option.none())
    expect(await applications(token)).toBe(1)
    expect(await applications(`${token}:second`)).toBe(0)
    expect(await retriesOn(ROUTE)).toBe(before + 1)
  })

  it("the cleanup drops only tokens older than their 24 hours", async () => {
    const old = randomUUID()
    const fresh = randomUUID()
    await query(url, "INSERT INTO webhook_deliveries (token, route, created_at) VALUES ($1, $3, now() - interval '25 hours'), ($2, $3, now() - interval '23 hours')", [old, fresh, ROUTE])
    const purged = await runtime.runPromise(purgeWebhookDeliveries(Duration.hours(24)))
    expect(purged).toBeGreaterThanOrEqual(1)
    expect(await recorded(old)).toBe(0)
    expect(await recorded(fresh)).toBe(1)
    expect(await runtime.runPromise(purgeWebhookDeliveries(Duration.hours(24)))).toBe(0)
  })
})
