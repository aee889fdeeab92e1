/**
 * Departments' concurrency caps across two real processes (src/main.ts, both
 * of role `all`, so both run the dial workers) on one database and one Twilio
 * simulator. A business (the `main` department, cap 1) has billing (cap 2) and
 * sales (cap 1), each with a number of its own; requests for all three are
 * created alternately through the two processes, then verified all at once,
 * each through the other process, so their dials compete. Each department's
 * calls hold slots of its own key (domain/callbacks/Department.ts): billing
 * reaches its 2 and never more, sales and main never more than 1, and the
 * three run side by side, so one department's cap does not hold up another.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, startSimulator, type RunningSimulator } from "../../../infra/twilio/Simulator.ts"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { freshNumber, type SimCall } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { spawnApp, type WorkerProcess } from "../../support/processes.ts"
import { mostAtOnce } from "../../support/productChecks.ts"

/** Every number answers after 50 ms and talks 1.5 s. */
const SCRIPT = { outcome: "answered", afterMs: 50, talkMs: 1_500 }

/** The business's own line and its two departments: the cap of each, and how many requests go to it. */
const LINES = [
  { key: "main", cap: 1, requests: 3 },
  { key: "billing", cap: 2, requests: 6 },
  { key: "sales", cap: 1, requests: 3 }
] as const

/** Stops the processes with SIGTERM and waits (at most 15 s) for them to exit; processes.ts SIGKILLs any left after the test. */
const stop = async (processes: ReadonlyArray<WorkerProcess>) => {
  await Promise.all(
    processes.map(async (p) => {
      try {
        p.signal("SIGTERM")
      } catch {
        return // already gone
      }
      await Promise.race([p.exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
    })
  )
}

/** The response's status, and its body when it is not `expected` (so a refusal says why). */
const answered = async (response: Response, expected: number) => ({ status: response.status, body: response.status === expected ? undefined : await response.clone().text() })

describe("departments across two processes", () => {
  let simulator: RunningSimulator
  let url: string

  beforeAll(async () => {
    url = await cloneDatabase()
    simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
  }, 60_000)
  afterAll(() => simulator.close())

  const call = (base: string, path: string, method: string, body?: unknown) =>
    fetch(base + path, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
  const sim = (path: string, init: RequestInit = {}) => fetch(simulator.url + path, { ...init, headers: { "content-type": "application/json" } })
  const callsTo = async (phone: string) => (await (await sim(`/sim/calls?to=${encodeURIComponent(phone)}`)).json()) as ReadonlyArray<SimCall>

  it("concurrency caps hold per department across two processes", { timeout: 120_000 }, async () => {
    const env = {
      TWILIO_SIMULATOR_URL: simulator.url,
      ADMIN_TOKEN,
      LOG_LEVEL: "info",
      QUEUES: "default:2,calls:8,sms:4",
      CALLBACK_RETRY_DELAYS: "200ms",
      DIAL_LIMIT_PER_DESTINATION: "100/15m",
      RATE_LIMIT_CREATE_PER_PHONE: "100/1h",
      RATE_LIMIT_CREATE_PER_IP: "1000/10m",
      RATE_LIMIT_VERIFY_PER_IP: "1000/10m",
      SMS_SENDER_RATE: "1000",
      BUDGET_SMS_PER_BUSINESS: "off",
      BUDGET_CALLS_PER_BUSINESS: "off"
    }
    const processes = [spawnApp(url, { ...env, ROLE: "all" }), spawnApp(url, { ...env, ROLE: "all" })]
    try {
      const urls = await Promise.all(processes.map((p) => p.ready()))
      const through = (i: number) => urls[i % urls.length] ?? ""

      // the business (`main`, cap 1) and its departments, each on a number of its own
      const phones = Object.fromEntries(LINES.map((line) => [line.key, freshNumber()])) as Record<(typeof LINES)[number]["key"], string>
      for (const phone of Object.values(phones)) {
        expect((await sim(`/sim/numbers/${encodeURIComponent(phone)}`, { method: "PUT", body: JSON.stringify(SCRIPT) })).status).toBeLessThan(300)
      }
      const created = await call(through(0), "/admin/api/businesses", "POST", { name: "Shop", phone: phones.main, timezone: "UTC", maxConcurrentCalls: 1 })
      expect(await answered(created, 201)).toEqual({ status: 201, body: undefined })
      const businessId = ((await created.json()) as { id: string }).id
      for (const [i, line] of LINES.entries()) {
        if (line.key === "main") continue
        const put = await call(through(i), `/admin/api/businesses/${businessId}/departments/${line.key}`, "PUT", {
          name: line.key,
          phone: phones[line.key],
          maxConcurrentCalls: line.cap
        })
        expect(await answered(put, 201)).toEqual({ status: 201, body: undefined })
        expect(await put.json()).toMatchObject({ key: line.key, phone: phones[line.key], maxConcurrentCalls: line.cap })
      }

      // the requests, interleaved over the lines and alternating between the processes
      const topics = LINES.flatMap((line) => Array.from({ length: line.requests }, (_, n) => ({ key: line.key, n })))
        .sort((a, b) => a.n - b.n)
        .map((t) => t.key)
      const pending = await Promise.all(
        topics.map(async (topic, i) => {
          const visitor = freshNumber()
          const response = await call(through(i), "/v1/callbacks", "POST", { businessId, phone: visitor, ...(topic === "main" ? {} : { topic }) })
          expect(await answered(response, 202)).toEqual({ status: 202, body: undefined })
          const { id } = (await response.json()) as { id: string }
          const code = await eventually(async () => {
            const texts = (await (await sim(`/sim/messages?to=${encodeURIComponent(visitor)}`)).json()) as ReadonlyArray<{ body: string }>
            return /\d{6}/.exec(texts[0]?.body ?? "")?.[0]
          }, 30_000, `the verification text to ${visitor}`)
          return { id, topic, code, i }
        })
      )
      // every code verified at once, through the other process than the one that took the request, so the dials compete
      const verified = await Promise.all(pending.map(({ id, code, i }) => call(through(i + 1), `/v1/callbacks/${id}/verification`, "POST", { code })))
      expect(await Promise.all(verified.map((r) => answered(r, 200)))).toEqual(pending.map(() => ({ status: 200, body: undefined })))

      const startedAt = Date.now()
      const views = await Promise.all(
        pending.map(({ id, i }) =>
          eventually(
            async () => {
              const view = (await (await call(through(i), `/v1/callbacks/${id}`, "GET")).json()) as { status: string; attempts: ReadonlyArray<{ to: string; status: string }> }
              return view.status === "completed" || view.status === "failed" ? view : undefined
            },
            90_000,
            `request ${id} to finish`
          )
        )
      )
      const tookMs = Date.now() - startedAt

      // every request completed, with one attempt, to its department's number
      expect(views.map((v) => v.status)).toEqual(pending.map(() => "completed"))
      expect(views.map((v) => v.attempts.length)).toEqual(pending.map(() => 1))
      expect(views.map((v) => v.attempts[0]?.to)).toEqual(pending.map((p) => phones[p.topic]))

      const calls = Object.fromEntries(await Promise.all(LINES.map(async (line) => [line.key, await callsTo(phones[line.key])] as const))) as Record<
        (typeof LINES)[number]["key"],
        ReadonlyArray<SimCall>
      >
      const most = Object.fromEntries(LINES.map((line) => [line.key, mostAtOnce(calls[line.key])]))
      const together = mostAtOnce(Object.values(calls).flat())
      // which process placed each call: its status callbacks go to that process's address
      const placedBy = urls.map((base) => Object.values(calls).flat().filter((c) => c.statusCallback.startsWith(base)).length)
      console.log(
        `${pending.length} requests completed ${(tookMs / 1000).toFixed(1)} s after verification; most calls at once: ${JSON.stringify(most)}, all lines together ${together}; calls placed per process: ${placedBy.join(" + ")}`
      )
      expect(placedBy.reduce((a, b) => a + b, 0)).toBe(pending.length)
      for (const line of LINES) expect(calls[line.key].map((c) => c.status)).toEqual(Array.from({ length: line.requests }, () => "completed"))
      // billing reaches its cap of 2 and never exceeds it; sales and main never more than 1
      expect(most).toEqual({ main: 1, billing: 2, sales: 1 })
      // the departments ran side by side: more calls at once than any one cap, so a busy billing held up neither sales nor main
      expect(together).toBeGreaterThan(2)

      // no slot is held once every call has ended
      await eventually(
        async () => (Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM job_slot_leases"))[0]?.n) === 0 ? true : undefined),
        10_000,
        "every slot lease to be released"
      )
    } finally {
      await stop(processes)
    }
  })
})
