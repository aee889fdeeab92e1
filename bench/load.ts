/**
 * `npm run bench:load`: the product path under open-loop load, with the app as
 * its own process (`node --import tsx src/main.ts`, as `npm start` runs it) and
 * the Twilio simulator as a third (`switchboard simulator`), over a throwaway
 * embedded PostgreSQL.
 *
 * First, what one request costs: BENCH_SEQUENTIAL (300) of each kind (a probe,
 * a lookup, a refused create, a create from each kind of client) sent one at
 * a time, with the CPU per request (for a create, its text too) of the app,
 * of PostgreSQL (all its processes) and of the simulator.
 *
 * Creates: for each rate of BENCH_RATES (250,500,1000 per second), for
 * BENCH_SECONDS (10), `POST /v1/callbacks` is sent on schedule whatever the
 * answers (open loop: a slow answer does not slow the sender, and latency
 * counts from when the request was due). Twice per rate: from many client
 * addresses (a visitor's page: the publishable key, the business's origin, a
 * distinct X-Forwarded-For per request, TRUST_PROXY=1) and from one address
 * (the business's server: its secret key). Every request has its own phone;
 * half carry an Idempotency-Key. Between runs the verification texts drain
 * (their rate is printed too).
 *
 * Dials: BENCH_DIAL_RATE (50) callbacks per second for BENCH_DIAL_SECONDS (20)
 * are created and verified (the code read from the simulator), with every
 * business's number answering after BENCH_RING_MS (50) and talking
 * BENCH_TALK_MS (50). Measured: from the verification's answer to the first
 * call's create reaching the simulator, and callbacks completed per second.
 *
 * For each run it prints the achieved rate, p50/p90/p99/max, errors by status,
 * and the app's CPU (of one core) and largest RSS (Linux /proc; "n/a"
 * elsewhere). Rate limits and budgets are raised out of the way: they are
 * measured here, not enforced. BENCH_CPU_PROF=folder makes the app write a V8
 * CPU profile there (open it in Chrome's DevTools).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { env, freshDatabase, percentile, runBench, sleep } from "./harness.ts"

const RATES = (process.env["BENCH_RATES"] ?? "250,500,1000").split(",").map(Number)
const SECONDS = env("BENCH_SECONDS", 10)
const DIAL_RATE = env("BENCH_DIAL_RATE", 50)
const DIAL_SECONDS = env("BENCH_DIAL_SECONDS", 20)
const RING_MS = env("BENCH_RING_MS", 50)
const TALK_MS = env("BENCH_TALK_MS", 50)
const BUSINESSES = env("BENCH_BUSINESSES", 20)
const WARMUP_RATE = env("BENCH_WARMUP_RATE", 100)
const WARMUP_SECONDS = env("BENCH_WARMUP_SECONDS", 5)
const SEQUENTIAL = env("BENCH_SEQUENTIAL", 300)
const TOKEN = "bench-admin-token-0123456789"
const ORIGIN = "https://shop.example"
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

// ---------------------------------------------------------------------------------------------
// processes

/** A port nobody listens on now. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Spawns `args` under this Node with tsx; resolves once `ready` (polled) says so. */
const startProcess = async (args: ReadonlyArray<string>, environment: Record<string, string>, ready: () => Promise<boolean>) => {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, env: { ...process.env, ...environment }, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)))
  child.stderr.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)))
  const deadline = Date.now() + 60_000
  while (!(await ready().catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.join(" ")} did not start:\n${output}`)
    await sleep(100)
  }
  return child
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.pid === undefined) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  process.kill(child.pid, "SIGTERM")
  await Promise.race([exited, sleep(15_000)])
  if (child.exitCode === null) process.kill(child.pid, "SIGKILL")
}

/** A process's CPU time so far, in clock ticks (100 per second on Linux); 0 once it is gone. */
const ticksOf = (pid: number): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return Number(fields[11]) + Number(fields[12]) // utime + stime
  } catch {
    return 0
  }
}

/** The PostgreSQL server's processes (the postmaster, its backends and helpers) and their CPU so far. */
const postgresTicks = (): Map<number, number> => {
  const ticks = new Map<number, number>()
  for (const entry of fs.existsSync("/proc") ? fs.readdirSync("/proc") : []) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") ticks.set(Number(entry), ticksOf(Number(entry)))
    } catch {
      // gone in between
    }
  }
  return ticks
}

/**
 * The CPU seconds the other processes of the run (the simulator, PostgreSQL) spent while `work` ran;
 * undefined where /proc is missing. A backend that exits in between takes its time with it (the app's
 * pool keeps its connections open, so in practice none does).
 */
const othersCpu = async <A>(simulatorPid: number, work: () => Promise<A>): Promise<{ result: A; simulator?: number; postgres?: number }> => {
  if (!fs.existsSync(`/proc/${simulatorPid}/stat`)) return { result: await work() }
  const simulator0 = ticksOf(simulatorPid)
  const postgres0 = postgresTicks()
  const result = await work()
  let postgres = 0
  for (const [pid, ticks] of postgresTicks()) postgres += ticks - (postgres0.get(pid) ?? 0)
  return { result, simulator: (ticksOf(simulatorPid) - simulator0) / 100, postgres: postgres / 100 }
}

/** The app's CPU (fraction of one core) and largest RSS while `work` runs; undefined where /proc is missing. */
const measured = async <A>(pid: number, work: () => Promise<A>): Promise<{ result: A; cpu?: number; cpuSeconds?: number; rssMb?: number }> => {
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024
  if (!fs.existsSync(`/proc/${pid}/stat`)) return { result: await work() }
  let maxRss = rss()
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rss())), 250)
  const t0 = performance.now()
  const c0 = ticksOf(pid)
  try {
    const result = await work()
    const cpuSeconds = (ticksOf(pid) - c0) / 100
    return { result, cpu: cpuSeconds / ((performance.now() - t0) / 1000), cpuSeconds, rssMb: maxRss }
  } finally {
    clearInterval(sampler)
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 })

interface Answer {
  readonly status: number
  readonly body: string
}

const send = (base: string, method: string, target: string, headers: Record<string, string>, body?: unknown): Promise<Answer> =>
  new Promise<Answer>((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const request = http.request(new URL(target, base), { method, agent, headers: { ...headers, ...(payload === undefined ? {} : { "content-type": "application/json" }) } }, (response) => {
      let text = ""
      response.on("data", (chunk: Buffer) => (text += chunk.toString()))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }))
      response.on("error", () => resolve({ status: 0, body: "" }))
    })
    request.on("error", (error) => resolve({ status: 0, body: String(error) }))
    request.end(payload)
  }).then((answer) => {
    if (answer.status === 0 || answer.status >= 400) {
      if (!firstBodies.has(answer.status)) firstBodies.set(answer.status, `${method} ${target.split("?")[0]}: ${answer.body.slice(0, 300)}`)
    }
    return answer
  })

const json = <A>(answer: Answer, expected: number, what: string): A => {
  if (answer.status !== expected) throw new Error(`${what}: ${answer.status} ${answer.body}`)
  return JSON.parse(answer.body) as A
}

// ---------------------------------------------------------------------------------------------
// the open-loop generator

/** The first answer seen per unexpected status, printed under the tables to say why. */
const firstBodies = new Map<number, string>()

interface Sample {
  readonly status: number
  /** From when the request was due to its answer, in ms. */
  readonly latency: number
  readonly end: number
}

/** Sends `count` requests `rate` per second on schedule, whatever the answers; each `work(i)` resolves with a status. */
const openLoop = (rate: number, count: number, work: (i: number) => Promise<number>): Promise<{ samples: Array<Sample>; start: number }> =>
  new Promise((resolve) => {
    const samples: Array<Sample> = []
    const start = performance.now() + 20
    let next = 0
    const tick = () => {
      const now = performance.now()
      while (next < count && start + (next * 1000) / rate <= now) {
        const due = start + (next * 1000) / rate
        void work(next++).then((status) => {
          const end = performance.now()
          samples.push({ status, latency: end - due, end })
          if (samples.length === count) resolve({ samples, start })
        })
      }
      if (next < count) setTimeout(tick, 1)
    }
    tick()
  })

const summary = (samples: ReadonlyArray<Sample>, start: number, ok: number) => {
  const good = samples.filter((s) => s.status === ok)
  const latencies = samples.map((s) => s.latency)
  const last = Math.max(...samples.map((s) => s.end))
  const errors = new Map<number, number>()
  for (const s of samples) if (s.status !== ok) errors.set(s.status, (errors.get(s.status) ?? 0) + 1)
  return {
    achieved: good.length / ((last - start) / 1000),
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    errors: [...errors].map(([status, n]) => `${n}× ${status === 0 ? "network" : status}`).join(", ") || "none"
  }
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))

// ---------------------------------------------------------------------------------------------

let phoneCounter = 0
/** A US mobile-capable number no other request of this run has. */
const nextPhone = () => `+1415${String(2_000_000 + phoneCounter++).padStart(7, "0")}`
let addressCounter = 0
const nextAddress = () => {
  const n = ++addressCounter
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}

runBench(async (adminUrl) => {
  const databaseUrl = await freshDatabase(adminUrl, "load")
  const simulator = { url: `http://127.0.0.1:${await freePort()}` }
  const simulatorChild = await startProcess(["src/cli.ts", "simulator"], { SIMULATOR_PORT: new URL(simulator.url).port, LOG_LEVEL: "warning" }, async () =>
    (await fetch(`${simulator.url}/sim/stats`)).ok
  )
  const app = { url: `http://127.0.0.1:${await freePort()}` }
  const profile = process.env["BENCH_CPU_PROF"] // a folder: the app writes a V8 CPU profile there when it exits
  const appChild = await startProcess(
    [...(profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.resolve(profile)}`]), "src/main.ts"],
    {
      DATABASE_URL: databaseUrl,
      TWILIO_SIMULATOR_URL: simulator.url,
      PORT: new URL(app.url).port,
      HOST: "127.0.0.1",
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: "warning",
      TRUST_PROXY: "1",
      RATE_LIMIT_CREATE_PER_IP: "1000000/1m",
      RATE_LIMIT_CREATE_PER_PHONE: "1000000/1m",
      RATE_LIMIT_VERIFY_PER_IP: "1000000/1m",
      DIAL_LIMIT_PER_DESTINATION: "1000000/1m",
      SMS_SENDER_RATE: "1000",
      BUDGET_SMS_PER_BUSINESS: "off",
      BUDGET_SMS_ACCOUNT: "off",
      BUDGET_CALLS_PER_BUSINESS: "off",
      BUDGET_CALLS_ACCOUNT: "off"
    },
    async () => (await fetch(`${app.url}/readyz`)).ok
  )
  const pid = appChild.pid as number
  const admin = { authorization: `Bearer ${TOKEN}` }
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    const businesses: Array<{ id: string; phone: string; pk: string; sk: string }> = []
    for (let b = 0; b < BUSINESSES; b++) {
      const phone = `+1646${String(3_000_000 + b).padStart(7, "0")}`
      const business = json<{ id: string }>(
        await send(app.url, "POST", "/admin/api/businesses", admin, {
          name: `Load ${b}`,
          phone,
          timezone: "UTC",
          escalation: [],
          maxConcurrentCalls: 10,
          vipPhones: [],
          smsFallback: false,
          allowedOrigins: [ORIGIN]
        }),
        201,
        "business"
      )
      const key = async (kind: string) => json<{ key: string }>(await send(app.url, "POST", `/admin/api/businesses/${business.id}/keys`, admin, { kind, label: "load" }), 201, `${kind} key`).key
      businesses.push({ id: business.id, phone, pk: await key("publishable"), sk: await key("secret") })
      json(await send(simulator.url, "PUT", `/sim/numbers/${encodeURIComponent(phone)}`, {}, { outcome: "answered", afterMs: RING_MS, talkMs: TALK_MS }), 200, "script")
    }

    /** The count a `SELECT count(*) AS n ...` finds. */
    const count = async (text: string, values: ReadonlyArray<unknown> = []) => Number((await db.query<{ n: string }>(text, [...values])).rows[0]?.n ?? 0)
    const pendingTexts = () => count("SELECT count(*) AS n FROM jobs WHERE kind = 'verification.send' AND state NOT IN ('completed', 'discarded', 'cancelled')")
    /** Waits for the verification texts to be sent; returns how many were sent per second since `from`. */
    const textsDrained = async (from: number, sent: number) => {
      while ((await pendingTexts()) > 0) await sleep(100)
      return sent / ((performance.now() - from) / 1000)
    }

    /** Creates `count` requests at `rate` per second, from many addresses (a visitor's page) or one (the business's server). */
    const creates = (rate: number, count: number, from: "many addresses" | "one address") => {
      const oneAddress = nextAddress()
      return openLoop(rate, count, async (i) => {
        const business = businesses[i % businesses.length] as (typeof businesses)[number]
        const headers: Record<string, string> =
          from === "many addresses" ? { origin: ORIGIN, "x-forwarded-for": nextAddress() } : { authorization: `Bearer ${business.sk}`, "x-forwarded-for": oneAddress }
        if (i % 2 === 0) headers["idempotency-key"] = randomUUID()
        const target = from === "many addresses" ? `/v1/callbacks?key=${business.pk}` : "/v1/callbacks"
        return (await send(app.url, "POST", target, headers, { phone: nextPhone(), name: "Load" })).status
      })
    }

    // warm-up, not reported: the app's code paths compiled and its pools filled
    const warm = await creates(WARMUP_RATE, WARMUP_RATE * WARMUP_SECONDS, "many addresses")
    await textsDrained(warm.start, 0)

    console.log(`app ${app.url} (pid ${pid}), simulator ${simulator.url}; ${BUSINESSES} businesses; ${SECONDS} s per rate after ${WARMUP_SECONDS} s at ${WARMUP_RATE}/s unreported`)
    console.log("")

    // what the processes cost with nothing to do (heartbeats, polls, probes): part of every figure below
    const idle = await othersCpu(simulatorChild.pid as number, () => measured(pid, () => sleep(5_000)))
    const share = (seconds: number | undefined) => (seconds === undefined ? "n/a" : `${((seconds / 5) * 100).toFixed(1)} %`)
    console.log(`idle for 5 s, CPU of one core: app ${share(idle.result.cpuSeconds)}, PostgreSQL ${share(idle.postgres)}, simulator ${share(idle.simulator)}`)
    console.log("")

    // what one request costs the app, sent one at a time (no queue, no contention): CPU per request
    // from /proc, and for creates the text each one sends (its job and its status reports) too
    console.log(`| one at a time (${SEQUENTIAL} each) | status | latency p50 ms | app CPU per request ms | PostgreSQL CPU per request ms | simulator CPU per request ms |`)
    console.log("|---|---|---|---|---|---|")
    const first = businesses[0] as (typeof businesses)[number]
    const sequential: Array<[string, () => Promise<number>]> = [
      ["GET /livez", async () => (await send(app.url, "GET", "/livez", {})).status],
      ["GET /v1/callbacks/{unknown id} (secret key)", async () => (await send(app.url, "GET", `/v1/callbacks/${randomUUID()}`, { authorization: `Bearer ${first.sk}` })).status],
      ["POST /v1/callbacks, a phone refused (secret key)", async () => (await send(app.url, "POST", "/v1/callbacks", { authorization: `Bearer ${first.sk}` }, { phone: "12", name: "Load" })).status],
      ["POST /v1/callbacks and its text (secret key)", async () => (await send(app.url, "POST", "/v1/callbacks", { authorization: `Bearer ${first.sk}` }, { phone: nextPhone(), name: "Load" })).status],
      [
        "POST /v1/callbacks and its text (publishable key, origin)",
        async () => (await send(app.url, "POST", `/v1/callbacks?key=${first.pk}`, { origin: ORIGIN, "x-forwarded-for": nextAddress() }, { phone: nextPhone(), name: "Load" })).status
      ]
    ]
    for (const [what, request] of sequential) {
      for (let i = 0; i < 30; i++) await request()
      await textsDrained(performance.now(), 0)
      const statuses = new Set<number>()
      const latencies: Array<number> = []
      const others = await othersCpu(simulatorChild.pid as number, () =>
        measured(pid, async () => {
          for (let i = 0; i < SEQUENTIAL; i++) {
            const t0 = performance.now()
            statuses.add(await request())
            latencies.push(performance.now() - t0)
          }
          await textsDrained(performance.now(), 0)
        })
      )
      const perRequest = (seconds: number | undefined) => (seconds === undefined ? "n/a" : ((seconds * 1000) / SEQUENTIAL).toFixed(2))
      console.log(
        `| ${what} | ${[...statuses].join(", ")} | ${ms(percentile(latencies, 50))} | ${perRequest(others.result.cpuSeconds)} | ${perRequest(others.postgres)} | ${perRequest(others.simulator)} |`
      )
    }
    console.log("")
    console.log("| creates | offered/s | achieved/s | p50 ms | p90 ms | p99 ms | max ms | errors | app CPU | app RSS MB | texts sent/s |")
    console.log("|---|---|---|---|---|---|---|---|---|---|---|")
    for (const rate of RATES) {
      for (const from of ["many addresses", "one address"] as const) {
        const count = Math.round(rate * SECONDS)
        const run = await measured(pid, () => creates(rate, count, from))
        const s = summary(run.result.samples, run.result.start, 202)
        const texts = await textsDrained(run.result.start, count)
        console.log(
          `| ${from} | ${rate} | ${s.achieved.toFixed(0)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${s.errors} | ${run.cpu === undefined ? "n/a" : `${(run.cpu * 100).toFixed(0)} %`} | ${run.rssMb?.toFixed(0) ?? "n/a"} | ${texts.toFixed(0)} |`
        )
      }
    }

    // verify -> first calls.create, and completed callbacks per second
    const dialCount = Math.round(DIAL_RATE * DIAL_SECONDS)
    const verifiedAt = new Map<string, number>() // request id -> epoch ms of the verification's answer
    const codeOf = async (phone: string): Promise<string> => {
      for (;;) {
        const messages = JSON.parse((await send(simulator.url, "GET", `/sim/messages?to=${encodeURIComponent(phone)}`, {})).body) as Array<{ body: string }>
        const code = /code is (\d{6})/.exec(messages[0]?.body ?? "")?.[1]
        if (code !== undefined) return code
        await sleep(20)
      }
    }
    const dials = await measured(pid, () =>
      openLoop(DIAL_RATE, dialCount, async (i) => {
        const business = businesses[i % businesses.length] as (typeof businesses)[number]
        const phone = nextPhone()
        const created = await send(app.url, "POST", "/v1/callbacks", { authorization: `Bearer ${business.sk}` }, { phone, name: "Load" })
        if (created.status !== 202) return created.status
        const { id } = JSON.parse(created.body) as { id: string }
        const verified = await send(app.url, "POST", `/v1/callbacks/${id}/verification`, {}, { code: await codeOf(phone) })
        if (verified.status === 200) verifiedAt.set(id, Date.now())
        return verified.status
      })
    )
    const firstVerified = Math.min(...verifiedAt.values())
    const terminal = () => count("SELECT count(*) AS n FROM callback_requests WHERE status IN ('completed', 'failed') AND id = ANY($1)", [[...verifiedAt.keys()]])
    const deadline = Date.now() + 300_000
    while ((await terminal()) < verifiedAt.size && Date.now() < deadline) await sleep(100)
    const rows = (
      await db.query<{ id: string; status: string; finished_at: Date; call_sid: string | null }>(
        `SELECT r.id, r.status, r.finished_at, a.call_sid
           FROM callback_requests r LEFT JOIN call_attempts a ON a.callback_id = r.id AND a.n = 1
          WHERE r.id = ANY($1)`,
        [[...verifiedAt.keys()]]
      )
    ).rows
    const calls = JSON.parse((await send(simulator.url, "GET", "/sim/calls", {})).body) as Array<{ sid: string; createdAt: string }>
    const createdAt = new Map(calls.map((c) => [c.sid, Date.parse(c.createdAt)]))
    const toFirstCall = rows.flatMap((r) => {
      const at = r.call_sid === null ? undefined : createdAt.get(r.call_sid)
      const verified = verifiedAt.get(r.id)
      return at === undefined || verified === undefined ? [] : [at - verified]
    })
    const completed = rows.filter((r) => r.status === "completed")
    const lastFinished = Math.max(...completed.map((r) => r.finished_at.getTime()))
    const d = summary(dials.result.samples, dials.result.start, 200)
    console.log("")
    console.log("| dials | offered/s | verified | verify -> first calls.create p50 ms | p90 ms | p99 ms | max ms | completed | completed/s | app CPU | app RSS MB |")
    console.log("|---|---|---|---|---|---|---|---|---|---|---|")
    console.log(
      `| ${RING_MS} ms ring, ${TALK_MS} ms talk | ${DIAL_RATE} | ${verifiedAt.size} of ${dialCount}${d.errors === "none" ? "" : ` (${d.errors})`} | ${ms(percentile(toFirstCall, 50))} | ${ms(percentile(toFirstCall, 90))} | ${ms(percentile(toFirstCall, 99))} | ${ms(Math.max(...toFirstCall))} | ${completed.length} | ${(completed.length / ((lastFinished - firstVerified) / 1000)).toFixed(1)} | ${dials.cpu === undefined ? "n/a" : `${(dials.cpu * 100).toFixed(0)} %`} | ${dials.rssMb?.toFixed(0) ?? "n/a"} |`
    )
    if (firstBodies.size > 0) {
      console.log("")
      for (const [status, body] of firstBodies) console.log(`first ${status === 0 ? "network error" : status}: ${body}`)
    }
  } finally {
    await db.end()
    await stop(appChild)
    await stop(simulatorChild)
    agent.destroy()
  }
})
