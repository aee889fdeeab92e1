/**
 * The API while its PostgreSQL is down or hung, against a real server of the
 * test's own: stopped, every route that needs the database answers 503
 * problem+json with Retry-After (not 500), the outage is logged once at
 * warning level (not a stack per request), and after a restart the same
 * routes work again and one info line says so. Suspended (SIGSTOP: connections
 * open, nothing answers), `/readyz` and `/healthz` still answer 503 within
 * their 2 s deadline.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { isUnavailable } from "../../infra/db/DatabaseError.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../support/callbacks.ts"
import { type DedicatedServer, dedicatedServer, eventually, storeRuntime } from "../support/database.ts"

const READINESS_DEADLINE_MS = 2_000
const MARGIN_MS = 1_000

/** The app's JSON log lines, taken from stdout while the test runs (not echoed). */
const captureLogs = () => {
  const lines: Array<Record<string, unknown>> = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: unknown) => {
    for (const text of String(chunk).split("\n")) {
      if (!text.startsWith("{")) continue
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>)
      } catch {
        // not a log line
      }
    }
    return true
  }) as typeof process.stdout.write
  return { lines: () => lines, restore: () => void (process.stdout.write = write) }
}

const outageWarnings = (lines: ReadonlyArray<Record<string, unknown>>) =>
  lines.filter((line) => line.level === "warn" && String(line.message).startsWith("database unavailable:"))
const recoveries = (lines: ReadonlyArray<Record<string, unknown>>) =>
  lines.filter((line) => line.level === "info" && String(line.message).startsWith("database available again"))

describe("the API while PostgreSQL is stopped or hung", () => {
  let db: DedicatedServer
  let app: CallbackApp
  let logs: ReturnType<typeof captureLogs>
  beforeAll(async () => {
    db = await dedicatedServer("unavailable")
    logs = captureLogs()
    app = await startCallbackApp({ databaseUrl: db.url, env: { LOG_LEVEL: "info" } })
  })
  afterAll(async () => {
    await app?.dispose()
    logs?.restore()
    await db?.dispose()
  })

  const ready = () => eventually(async () => ((await app.request("/readyz")).status === 200 ? true : undefined), 30_000, "/readyz 200")

  it("answers /readyz and /healthz 503 within the deadline while the server is suspended", async () => {
    await ready()
    await db.suspend()
    const timings: Array<{ path: string; ms: number }> = []
    try {
      for (let round = 0; round < 2; round++) {
        for (const path of ["/readyz", "/healthz"]) {
          const startedAt = Date.now()
          const response = await app.request(path)
          const body = (await response.json()) as { checks: Record<string, { status: string; detail?: string }> }
          timings.push({ path, ms: Date.now() - startedAt })
          expect(response.status).toBe(503)
          expect(body.checks.database).toEqual({ status: "failing", detail: "no answer within 2s" })
        }
      }
    } finally {
      await db.resume()
    }
    expect(timings.filter((t) => t.ms > READINESS_DEADLINE_MS + MARGIN_MS)).toEqual([])
    await ready() // answers again once the server does
  })

  it("answers 503 + Retry-After while the server is stopped, logs each outage once, and works again after a restart", async () => {
    await ready()
    const business = await app.createBusiness()
    const existing = await app.create(business.id)
    const routes: ReadonlyArray<readonly [string, () => Promise<Response>]> = [
      ["POST /v1/callbacks", () => app.request("/v1/callbacks", { method: "POST", admin: true, body: JSON.stringify({ businessId: business.id, phone: freshNumber(), name: "Ada" }) })],
      ["GET /v1/callbacks/{id}", () => app.request(`/v1/callbacks/${existing.id}`)],
      ["GET /admin/api/stats", () => app.request("/admin/api/stats", { admin: true })]
    ]
    const working = async () => {
      const statuses = await Promise.all(routes.map(([, call]) => call().then((r) => r.status)))
      return statuses.join(",") === "202,200,200" ? true : undefined
    }
    expect(await working()).toBe(true)
    // a pool over TCP too, opened while the server is up: the embedded URL uses its Unix socket (ENOENT once it stops), TCP meets ECONNREFUSED
    const overTcp = storeRuntime(db.tcpUrl)
    await overTcp.runPromise(Effect.flatMap(JobStore, (store) => store.queueStats))

    for (const outage of [1, 2]) {
      const from = logs.lines().length
      await db.stop()
      for (let round = 0; round < 3; round++) {
        for (const [route, call] of routes) {
          const response = await call()
          const body = (await response.json()) as Record<string, unknown>
          expect({ route, status: response.status, type: response.headers.get("content-type") }).toEqual({ route, status: 503, type: "application/problem+json" })
          expect(response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/)
          expect(body).toMatchObject({ type: "/problems/unavailable", status: 503 })
        }
      }
      if (outage === 1) {
        const exit = await overTcp.runPromiseExit(Effect.flatMap(JobStore, (store) => store.queueStats))
        const error = Exit.isFailure(exit) ? exit.cause : undefined
        expect(error?._tag).toBe("Fail")
        const failure = error?._tag === "Fail" ? error.error : undefined
        expect(failure?._tag).toBe("DatabaseError")
        expect(failure?._tag === "DatabaseError" && isUnavailable(failure)).toBe(true)
        expect(failure?.message).toContain("ECONNREFUSED")
      }
      const during = logs.lines().slice(from)
      expect(outageWarnings(during)).toHaveLength(1) // nine failed requests, one line
      expect(String(outageWarnings(during)[0]?.message)).toMatch(/^database unavailable: [\w.]+: \S/) // the operation and what went wrong
      expect(during.filter((line) => line.message === "request failed")).toEqual([])

      await db.start()
      await eventually(working, 30_000, "the routes to work again")
      await eventually(async () => (recoveries(logs.lines().slice(from)).length === 1 ? true : undefined), 10_000, '"database available again"')
      expect(outageWarnings(logs.lines().slice(from))).toHaveLength(1)
    }
    await overTcp.dispose()
  })
})
