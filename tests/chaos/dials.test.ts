/**
 * The product under faults, across real processes (src/main.ts as `npm start`
 * runs it: a web process for the visitors, worker processes for the jobs)
 * sharing one Twilio simulator:
 * - the worker that placed 50 calls is SIGKILLed while they are in progress
 *   (the status callbacks go to its address and are lost), and a new one's
 *   call watchers settle them;
 * - that worker is paused (SIGSTOP) past its lease instead, a new one takes
 *   over, and the paused one resumes (SIGCONT);
 * - PostgreSQL crashes (an immediate shutdown, as a power cut or an OOM kill
 *   of the postmaster) in the middle of a burst of dials, and comes back.
 *
 * Each ends with the total check: every verified request completed exactly
 * once (one `callback.completed` in its history), one attempt per request and
 * one call per attempt (the simulator's calls are exactly the attempts'
 * sids), never more calls at once to a business than its maxConcurrentCalls,
 * no dial job left running and no business slot held by a lease.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startEmbedded, type EmbeddedServer } from "../../infra/db/EmbeddedPostgres.ts"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, startSimulator, type RunningSimulator } from "../../infra/twilio/Simulator.ts"
import { ADMIN_TOKEN } from "../support/app.ts"
import { freshNumber } from "../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../support/database.ts"
import { mostAtOnce, type SimCall } from "../support/productChecks.ts"
import { spawnApp, type WorkerProcess } from "../support/processes.ts"

const BUSINESSES = 5
const MAX_CONCURRENT = 10

const environment = (simulator: RunningSimulator): Record<string, string> => ({
  TWILIO_SIMULATOR_URL: simulator.url,
  ADMIN_TOKEN,
  QUEUES: "default:2,calls:60,sms:8,webhooks:1",
  CALL_STATUS_TIMEOUT: "2s",
  // a create without a definite answer (cut off by a crash) is reconciled once its window closes: keep it short
  TWILIO_TIMEOUT: "5s",
  CALLBACK_RETRY_DELAYS: "300ms",
  DIAL_LIMIT_PER_DESTINATION: "1000/15m",
  RATE_LIMIT_CREATE_PER_IP: "100000/10m",
  RATE_LIMIT_VERIFY_PER_IP: "100000/10m",
  SMS_SENDER_RATE: "1000",
  BUDGET_SMS_PER_BUSINESS: "off",
  BUDGET_SMS_ACCOUNT: "off",
  BUDGET_CALLS_PER_BUSINESS: "off",
  BUDGET_CALLS_ACCOUNT: "off",
  LOG_LEVEL: "info"
})

/** A web process, businesses with scripted numbers, and helpers that drive visitors through it. */
const platform = (simulator: RunningSimulator, databaseUrl: () => string) => {
  let web: WorkerProcess
  let webUrl = ""
  const businesses: Array<{ id: string; phone: string }> = []
  const request = (target: string, init: RequestInit & { admin?: boolean } = {}) =>
    fetch(webUrl + target, { ...init, headers: { "content-type": "application/json", ...(init.admin === true ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) } })
  const sim = (target: string, init: RequestInit = {}) => fetch(simulator.url + target, { ...init, headers: { "content-type": "application/json" } })
  /** How many of `ids` are in one of `statuses`. */
  const countIn = async (ids: ReadonlyArray<string>, statuses: ReadonlyArray<string>) =>
    Number((await query<{ n: string }>(databaseUrl(), "SELECT count(*) AS n FROM callback_requests WHERE id = ANY($1) AND status = ANY($2)", [ids, statuses]))[0]?.n)

  return {
    /** Five businesses whose numbers answer after 100 ms and talk `talkMs`; calls ring for at most `ringSeconds`. */
    start: async (talkMs: number, ringSeconds = 30) => {
      web = spawnApp(databaseUrl(), { ...environment(simulator), ROLE: "web" })
      // it listens for the probes at once and serves once the database has every migration
      webUrl = await web.ready()
      businesses.length = 0
      for (let b = 0; b < BUSINESSES; b++) {
        const phone = freshNumber()
        await sim(`/sim/numbers/${encodeURIComponent(phone)}`, { method: "PUT", body: JSON.stringify({ outcome: "answered", afterMs: 100, talkMs }) })
        const created = await request("/admin/api/businesses", {
          method: "POST",
          admin: true,
          body: JSON.stringify({ name: `Chaos ${b}`, phone, timezone: "UTC", maxConcurrentCalls: MAX_CONCURRENT, ringSeconds })
        })
        expect(created.status).toBe(201)
        businesses.push({ id: ((await created.json()) as { id: string }).id, phone })
      }
    },
    /**
     * `n` requests created through the web process (round robin over the businesses), then, once every
     * code has arrived, all verified at once, so their calls start together; their ids.
     */
    verified: async (n: number): Promise<Array<string>> => {
      const pending = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const business = businesses[i % businesses.length]!
          const visitor = freshNumber()
          const created = await request("/v1/callbacks", { method: "POST", admin: true, body: JSON.stringify({ businessId: business.id, phone: visitor }) })
          expect(created.status).toBe(202)
          const { id } = (await created.json()) as { id: string }
          const newestCode = () =>
            eventually(async () => {
              const texts = (await (await sim(`/sim/messages?to=${encodeURIComponent(visitor)}`)).json()) as ReadonlyArray<{ body: string }>
              return /\d{6}/.exec(texts[0]?.body ?? "")?.[0]
            }, 60_000, "a verification text")
          await newestCode()
          return { id, newestCode }
        })
      )
      return Promise.all(
        pending.map(async ({ id, newestCode }) => {
          // the newest code, as a visitor would type it (a send job rescued on a loaded machine texts the same code again)
          const verified = await eventually(async () => {
            const response = await request(`/v1/callbacks/${id}/verification`, { method: "POST", body: JSON.stringify({ code: await newestCode() }) })
            return response.status === 400 ? undefined : response
          }, 30_000, "the newest code to verify")
          expect(verified.status).toBe(200)
          return id
        })
      )
    },
    countIn,
    /** Waits until every one of `ids` has finished (completed or failed). */
    finished: (ids: ReadonlyArray<string>) =>
      eventually(async () => ((await countIn(ids, ["completed", "failed"])) === ids.length ? true : undefined), 180_000, `all ${ids.length} requests to finish`),
    /** The total check (see the module's comment). */
    totalCheck: async (ids: ReadonlyArray<string>) => {
      const url = databaseUrl()
      const requests = await query<{ status: string; completions: string; attempts: string }>(
        url,
        `SELECT r.status,
                (SELECT count(*) FROM callback_events e WHERE e.callback_id = r.id AND e.type = 'callback.completed') AS completions,
                (SELECT count(*) FROM call_attempts a WHERE a.callback_id = r.id) AS attempts
           FROM callback_requests r WHERE r.id = ANY($1)`,
        [ids]
      )
      expect(requests).toHaveLength(ids.length)
      expect(requests.filter((r) => r.status !== "completed" || r.completions !== "1" || r.attempts !== "1")).toEqual([])
      const sids = (await query<{ call_sid: string | null }>(url, "SELECT call_sid FROM call_attempts WHERE callback_id = ANY($1)", [ids])).map((r) => r.call_sid)
      const calls: Array<SimCall> = []
      for (const business of businesses) {
        const toBusiness = (await (await sim(`/sim/calls?to=${encodeURIComponent(business.phone)}`)).json()) as ReadonlyArray<SimCall>
        expect(mostAtOnce(toBusiness)).toBeLessThanOrEqual(MAX_CONCURRENT)
        calls.push(...toBusiness)
      }
      // one call per attempt, and every call is an attempt's
      expect(calls.map((c) => c.sid).sort()).toEqual([...sids].sort())
      const running = await query<{ n: string }>(url, "SELECT count(*) AS n FROM jobs WHERE kind = 'callback.dial' AND state = 'running'")
      expect(Number(running[0]?.n)).toBe(0)
      const leases = await query<{ n: string }>(url, "SELECT count(*) AS n FROM job_slot_leases")
      expect(Number(leases[0]?.n)).toBe(0)
      return { calls: calls.length }
    }
  }
}

describe("dials under process faults", () => {
  let simulator: RunningSimulator
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
  }, 60_000)
  afterAll(() => simulator.close())

  /**
   * A worker that holds `n` dials: they are verified once it is ready, and it is handed over once at least
   * `atLeast` calls are in progress (on a loaded machine the first calls may end before the last are placed).
   */
  const workerHolding = async (app: ReturnType<typeof platform>, n: number, atLeast: number) => {
    const worker = spawnApp(url, environment(simulator))
    await worker.ready()
    const ids = await app.verified(n)
    await eventually(async () => ((await app.countIn(ids, ["dialing", "connected"])) >= atLeast ? true : undefined), 90_000, `${atLeast} of the ${n} calls to be in progress`)
    return { worker, ids, inProgress: await app.countIn(ids, ["dialing", "connected"]) }
  }

  it("the worker that placed 50 calls is SIGKILLed with at least 45 in progress: a new worker's watchers settle them, each ends once, with no second call", { timeout: 180_000 }, async () => {
    const app = platform(simulator, () => url)
    await app.start(30_000)
    const { worker: first, ids, inProgress } = await workerHolding(app, 50, 45)
    const killedAt = Date.now()
    first.signal("SIGKILL")
    await first.exited
    // the calls go on at Twilio; their status callbacks go to the dead worker's address and are lost
    spawnApp(url, environment(simulator))
    await app.finished(ids)
    console.log(`SIGKILL with ${inProgress} of 50 calls in progress: all 50 completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (calls talk 30 s)`)
    expect((await app.totalCheck(ids)).calls).toBe(50)
  })

  it("the worker that placed 20 calls is paused past its lease: a new worker takes over; resumed, the old one changes nothing and calls no one", { timeout: 180_000 }, async () => {
    const app = platform(simulator, () => url)
    await app.start(20_000)
    const { worker: first, ids } = await workerHolding(app, 20, 18)
    first.signal("SIGSTOP")
    await spawnApp(url, environment(simulator)).ready()
    // the paused process's row goes stale (PROCESS_STALE_AFTER 2 s) and is pruned, and whatever jobs it held are rescued
    await eventually(
      async () => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM processes WHERE pid = $1", [first.pid]))[0]?.n) === 0 ? true : undefined,
      30_000,
      "the paused process to be presumed dead"
    )
    first.signal("SIGCONT")
    await eventually(async () => (first.output().includes("presumed dead") ? true : undefined), 30_000, "the resumed process to learn it was presumed dead")
    await app.finished(ids)
    expect((await app.totalCheck(ids)).calls).toBe(20)
  })
})

describe("PostgreSQL crashes during a burst of dials", () => {
  let simulator: RunningSimulator
  let root: string
  let server: EmbeddedServer
  let port: number
  beforeAll(async () => {
    simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
    root = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-crash-"))
    await fs.chmod(root, 0o755) // the postgres user must reach it
    server = await startEmbedded({ root, database: "crash", log: () => {} })
    port = Number(new URL(server.url).port)
  }, 120_000)
  afterAll(async () => {
    await simulator.close()
    await server.release()
    await fs.rm(root, { recursive: true, force: true })
  })

  it("an immediate shutdown mid-burst: liveness holds, readiness flips and recovers, the resumed dials ask Twilio at once, every request ends once with one call per attempt", { timeout: 240_000 }, async () => {
    const app = platform(simulator, () => server.url)
    // a long ring time: a call whose reports were lost is only asked about after it, unless its dial asks on resuming
    await app.start(1_500, 120)
    const worker = spawnApp(server.url, environment(simulator))
    const base = await worker.ready()
    const ids = await app.verified(40)

    const probes: Array<{ at: number; livez: number; readyz: number }> = []
    let probing = true
    const prober = (async () => {
      while (probing) {
        const at = Date.now()
        const [livez, readyz] = await Promise.all(["/livez", "/readyz"].map((p) => fetch(base + p).then((r) => r.status, () => 0)))
        probes.push({ at, livez: livez ?? 0, readyz: readyz ?? 0 })
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })()

    // as soon as some calls are placed and others still wait for their slot or their create's answer
    await eventually(async () => ((await app.countIn(ids, ["dialing", "connected"])) >= 10 ? true : undefined), 30_000, "dials under way")
    const pid = Number((await fs.readFile(path.join(server.dataDir, "postmaster.pid"), "utf8")).split("\n")[0])
    const crashedAt = Date.now()
    process.kill(pid, "SIGQUIT") // PostgreSQL's immediate shutdown: no checkpoint, every backend killed
    await eventually(async () => ((await fs.stat(path.join(server.dataDir, "postmaster.pid")).then(() => false, () => true)) ? true : undefined), 30_000, "the postmaster to exit")
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    const restartingAt = Date.now()
    server = await startEmbedded({ root, database: "crash", log: () => {}, port })

    await app.finished(ids)
    probing = false
    await prober
    const finished = Date.now()
    const lastNotReady = Math.max(...probes.filter((p) => p.readyz !== 200).map((p) => p.at))
    console.log(
      `PostgreSQL immediate shutdown for ${((restartingAt - crashedAt) / 1000).toFixed(1)} s: /readyz back ${((lastNotReady - restartingAt) / 1000).toFixed(1)} s after the restart began, all ${ids.length} requests finished ${((finished - restartingAt) / 1000).toFixed(1)} s after it`
    )
    expect(probes.filter((p) => p.livez !== 200)).toEqual([])
    // the dials resumed after the outage asked Twilio about their calls at once, not after the 120 s ring time
    expect(finished - restartingAt).toBeLessThan(60_000)
    expect(probes.some((p) => p.at > crashedAt && p.at < restartingAt && p.readyz === 503)).toBe(true)
    expect(probes.some((p) => p.at > restartingAt && p.readyz === 200)).toBe(true)
    expect((await app.totalCheck(ids)).calls).toBe(ids.length)
  })
})
