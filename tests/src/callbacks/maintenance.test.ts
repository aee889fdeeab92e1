/**
 * The cron jobs read the time from Effect's Clock: under `TestClock` the daily
 * report's default day is the UTC day before the test's clock, not the
 * machine's, and moving the clock moves the day.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { randomUUID } from "node:crypto"
import { DatabaseUrl } from "../../../infra/db/Database.ts"
import { reportDay, yesterday } from "../../../src/callbacks/Maintenance.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

describe("yesterday", () => {
  it.effect("is the UTC day before the Clock's, across month and year ends", () =>
    Effect.gen(function* () {
      expect(yield* yesterday).toBe("1969-12-31") // the TestClock starts at the epoch
      yield* TestClock.setTime(Date.parse("2032-01-01T00:00:00Z"))
      expect(yield* yesterday).toBe("2031-12-31")
      yield* TestClock.setTime(Date.parse("2031-03-01T23:59:59.999Z"))
      expect(yield* yesterday).toBe("2031-02-28")
      yield* TestClock.adjust("1 milli")
      expect(yield* yesterday).toBe("2031-03-01")
    })
  )
})

const Database = Layer.unwrapEffect(Effect.map(Effect.promise(cloneDatabase), (url) => databaseLayer(url, 2)))

layer(Database)("report.daily", (it) => {
  it.effect("without a day, summarises and stores yesterday by the Clock", () =>
    Effect.gen(function* () {
      const url = Redacted.value(yield* DatabaseUrl)
      const sql = (text: string, values: ReadonlyArray<unknown> = []) => Effect.promise(() => query(url, text, values))
      const businessId = randomUUID()
      yield* sql("INSERT INTO businesses (id, name, phone, timezone) VALUES ($1, 'Acme', '+14155550100', 'UTC')", [businessId])
      yield* sql("INSERT INTO callback_requests (id, business_id, phone, status, created_at) VALUES ($1, $2, '+14155554000', 'queued', '2031-02-28T10:00:00Z')", [
        randomUUID(),
        businessId
      ])

      yield* TestClock.setTime(Date.parse("2031-03-01T00:15:00Z"))
      const first = yield* reportDay()
      expect(first).toMatchObject({ day: "2031-02-28", created: 1 })
      yield* TestClock.adjust("1 day")
      const second = yield* reportDay()
      expect(second).toMatchObject({ day: "2031-03-01", created: 0 })

      const stored = yield* sql("SELECT day::text AS day, summary->>'created' AS created FROM daily_reports ORDER BY day")
      expect(stored).toEqual([
        { day: "2031-02-28", created: "1" },
        { day: "2031-03-01", created: "0" }
      ])
    })
  )
})
