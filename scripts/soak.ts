/**
 * `npm run soak -- --minutes 10`: the product under mixed traffic and random
 * faults for a while, then the total check.
 *
 * It starts the product as tests/chaos runs it: a throwaway embedded
 * PostgreSQL, the Twilio simulator (in this process, behind the Retry-After
 * front of tests/support/productChecks.ts), a web process and two worker
 * processes of src/main.ts. Six businesses: four answer (after 300 ms, talking
 * 1.5 s), one is busy, one does not answer; each takes 2 or 3 calls at once.
 *
 * Traffic, open loop (`--rate`, 2 visitors a second): creates with and
 * without Idempotency-Key (some sent twice, which must replay the same
 * request), verifications (some after wrong codes, some never), cancels
 * before and after verification, status reads. A create with a key, a
 * verification and a cancel refused with 503 are sent again after its
 * Retry-After; a create without a key is not (the visitor gives up).
 *
 * Faults, one at a time, 10-20 s apart, each kind once before any repeats:
 * the youngest worker SIGKILLed (and a new one started; the first worker
 * lives to the end, for its RSS), a worker paused with SIGSTOP
 * past its lease (and resumed), PostgreSQL stopped (fast shutdown) and
 * started 3 s later, PostgreSQL shut down immediately (SIGQUIT: no
 * checkpoint) and started 3 s later, a Twilio 503 storm (6 s), Twilio 429
 * with Retry-After (6 s), Twilio creating calls but losing the answer (5 s).
 *
 * At the end, once the system settles (every request terminal: unverified
 * ones expire after VERIFICATION_CODE_TTL, 45 s here), the total check
 * (productChecks.ts `totalCheck`), plus: no answer other than those the API
 * documents (no 500), no connection error to the web process, idempotent
 * replays gave back the same request, no app process exited by itself, and
 * the RSS of each app process grew less than 20 % from its sample after the
 * warm-up (the first minute of traffic, or a quarter of a shorter run; for a
 * process started later, from its start) to the end
 * (/proc/<pid>/status VmRSS). It prints a summary and exits 1 when a check fails.
 *
 *   npm run soak -- --minutes 0.5 --rate 2
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type EmbeddedServer, startEmbedded } from "../infra/db/EmbeddedPostgres.ts"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, startSimulator } from "../infra/twilio/Simulator.ts"
import {
  type Answer,
  type BusinessLine,
  productApi,
  productEnvironment,
  query,
  startTwilioFront,
  TERMINAL_STATUSES,
  totalCheck,
  unsettled,
  untilServed,
  type Verdict,
  visitorNumber
} from "../tests/support/productChecks.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const TOKEN = "soak-admin-token-0123456789"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (message: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`)

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  if (at === -1) return fallback
  const value = Number(process.argv[at + 1])
  if (!(value > 0)) {
    console.error(`--${name} takes a positive number (got ${process.argv[at + 1]}); usage: npm run soak -- [--minutes 10] [--rate 2]`)
    process.exit(2)
  }
  return value
}
const MINUTES = option("minutes", 10)
const RATE = option("rate", 2)
const DURATION_MS = MINUTES * 60_000
const WARMUP_MS = Math.min(60_000, DURATION_MS / 4)
const RSS_GROWTH_LIMIT = 0.2

// ---------------------------------------------------------------------------------------------
// the application's processes

interface AppProcess {
  readonly label: string
  readonly pid: number
  readonly child: ChildProcess
  readonly bornAt: number
  readonly output: () => string
  readonly url: () => Promise<string>
  /** Sent a signal by a fault (SIGKILL): its exit is expected. */
  killed: boolean
  readonly rss: Array<{ readonly at: number; readonly kb: number }>
}

const processes: Array<AppProcess> = []
/** Set once the soak tears everything down: exits from then on are expected. */
let stopping = false
const unexpectedExits: Array<string> = []
let environment: Record<string, string> = {}
let databaseUrl = ""

const spawnApp = (label: string, role: "web" | "worker"): AppProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts")], {
    cwd: root,
    env: { ...process.env, ...environment, ROLE: role, PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"]
  })
  if (child.pid === undefined) throw new Error(`could not spawn ${label}`)
  let output = ""
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000))
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const app: AppProcess = {
    label,
    pid: child.pid,
    child,
    bornAt: Date.now(),
    output: () => output,
    killed: false,
    rss: [],
    url: async () => {
      const deadline = Date.now() + 120_000
      for (;;) {
        const port = /HTTP server listening on http:\/\/[^:]+:(\d+)/.exec(output)?.[1]
        if (port !== undefined) return `http://127.0.0.1:${port}`
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${label} did not start:\n${output.slice(-5_000)}`)
        await sleep(100)
      }
    }
  }
  child.once("exit", (code, signal) => {
    if (!app.killed && !stopping) unexpectedExits.push(`${label} (pid ${app.pid}) exited by itself: ${code ?? signal}\n${output.slice(-3_000)}`)
  })
  processes.push(app)
  return app
}

/** Waits until `app` answers /readyz 200; its base URL. */
const ready = async (app: AppProcess, timeoutMs = 120_000) => {
  const base = await app.url()
  const deadline = Date.now() + timeoutMs
  while ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (app.child.exitCode !== null || Date.now() > deadline) throw new Error(`${app.label} did not become ready:\n${app.output().slice(-5_000)}`)
    await sleep(200)
  }
  return base
}

let workerCount = 0
const startWorker = async () => {
  const worker = spawnApp(`worker-${++workerCount}`, "worker")
  await worker.url()
  const listening = Date.now()
  await ready(worker)
  const seconds = (at: number) => ((at - worker.bornAt) / 1000).toFixed(1)
  log(`  ${worker.label} listening after ${seconds(listening)} s, ready after ${seconds(Date.now())} s`)
  return worker
}
const liveWorkers = () => processes.filter((p) => p.label.startsWith("worker-") && !p.killed && p.child.exitCode === null)
const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)] as A

const sampleRss = async () => {
  for (const app of processes) {
    if (app.killed || app.child.exitCode !== null) continue
    const status = await fs.readFile(`/proc/${app.pid}/status`, "utf8").catch(() => "")
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    if (!Number.isNaN(kb)) app.rss.push({ at: Date.now(), kb })
  }
}

// ---------------------------------------------------------------------------------------------
// set-up

const dataRoot = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-soak-"))
await fs.chmod(dataRoot, 0o755) // the postgres user must reach it
let server: EmbeddedServer = await startEmbedded({ root: dataRoot, database: "soak", log: () => {} })
const pgPort = Number(new URL(server.url).port)
databaseUrl = server.url
const simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
const front = await startTwilioFront(simulator.url)
environment = {
  ...productEnvironment(front.url, TOKEN),
  HEARTBEAT_INTERVAL: "300ms",
  PROCESS_STALE_AFTER: "2s",
  JOB_POLL_INTERVAL: "250ms",
  SHUTDOWN_GRACE: "2s",
  VERIFICATION_CODE_TTL: "45s",
  LOG_LEVEL: "info"
}

const cleanUp = async () => {
  stopping = true
  for (const app of processes) if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill("SIGKILL")
  await front.close().catch(() => undefined)
  await simulator.close().catch(() => undefined)
  await server.release().catch(() => undefined)
  await fs.rm(dataRoot, { recursive: true, force: true }).catch(() => undefined)
}
process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)))

log(`PostgreSQL at 127.0.0.1:${pgPort}, simulator at ${simulator.url}; starting a web process and two workers for ${MINUTES} minute(s) at ${RATE} visitors/s`)
const web = spawnApp("web", "web")
const webUrl = await ready(web)
await Promise.all([startWorker(), startWorker()])
const api = productApi(webUrl, simulator.url, TOKEN)
const businesses: Array<BusinessLine & { readonly kind: string }> = []
for (let b = 0; b < 4; b++) businesses.push({ ...(await api.business(`Soak answers ${b}`, 3, { outcome: "answered", afterMs: 300, talkMs: 1_500 })), kind: "answered" })
businesses.push({ ...(await api.business("Soak busy", 2, { outcome: "busy", afterMs: 500 })), kind: "busy" })
businesses.push({ ...(await api.business("Soak no answer", 2, { outcome: "no-answer", afterMs: 1_500 })), kind: "no-answer" })

// ---------------------------------------------------------------------------------------------
// traffic

type Operation = "create" | "verify" | "cancel" | "show"
const EXPECTED: Record<Operation, ReadonlyArray<number>> = {
  create: [202, 503],
  verify: [200, 400, 409, 410, 503],
  cancel: [200, 409, 503],
  show: [200, 503]
}
const answers = new Map<string, number>()
const unexpected: Array<string> = []
const connectionErrors: Array<string> = []
const replayMismatches: Array<string> = []
const accepted = new Set<string>()
const behaviours = new Map<string, number>()
let visitors = 0
let refusedCreates = 0
let noCode = 0
/** Codes a visitor typed that a newer text had replaced (none expected: a verification job that runs again texts the same code). */
let replacedCodes = 0

const record = (operation: Operation, all: ReadonlyArray<Answer>) => {
  for (const answer of all) {
    answers.set(`${operation} ${answer.status}`, (answers.get(`${operation} ${answer.status}`) ?? 0) + 1)
    if (answer.status === 0) connectionErrors.push(`${operation}: ${answer.error}`)
    else if (!EXPECTED[operation].includes(answer.status)) unexpected.push(`${operation} ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`)
    else if (answer.status === 503 && !/^[1-9]\d*$/.test(answer.retryAfter ?? "")) unexpected.push(`${operation} 503 without Retry-After`)
  }
  return all.at(-1)
}
const served = (operation: Operation, send: () => Promise<Answer>) => untilServed(send, 120_000).then((all) => record(operation, all))
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0")

const BEHAVIOURS = [
  ["plain", 20],
  ["keyed", 15],
  ["replayed", 10],
  ["wrong-then-right", 10],
  ["wrong-out", 5],
  ["cancel-before-verify", 10],
  ["cancel-after-verify", 10],
  ["abandon", 5],
  ["status-reader", 15]
] as const
type Behaviour = (typeof BEHAVIOURS)[number][0]
const behaviourOf = (): Behaviour => {
  let roll = Math.random() * BEHAVIOURS.reduce((n, [, weight]) => n + weight, 0)
  for (const [name, weight] of BEHAVIOURS) if ((roll -= weight) < 0) return name
  return "plain"
}

/** One visitor, from the create to whatever its behaviour does last. */
const visit = async () => {
  const behaviour = behaviourOf()
  behaviours.set(behaviour, (behaviours.get(behaviour) ?? 0) + 1)
  const phone = visitorNumber()
  const roll = Math.random()
  const business = businesses[roll < 0.7 ? Math.floor(Math.random() * 4) : roll < 0.85 ? 4 : 5]!
  const key = behaviour === "plain" || behaviour === "status-reader" ? undefined : randomUUID()
  const created = key === undefined ? record("create", [await api.create(business.id, phone)]) : await served("create", () => api.create(business.id, phone, key))
  if (created?.status !== 202) {
    refusedCreates++
    return
  }
  const id = String(created.body.id)
  accepted.add(id)
  if (behaviour === "replayed") {
    const again = await served("create", () => api.create(business.id, phone, key))
    if (again?.status !== 202 || again.body.id !== id || !again.replayed) replayMismatches.push(`${id}: ${again?.status} ${String(again?.body.id)} replayed=${again?.replayed}`)
  }
  if (behaviour === "cancel-before-verify") return void (await served("cancel", () => api.cancel(id)))
  if (behaviour === "abandon") return
  const code = await api.codeFor(phone, 120_000)
  if (code === undefined) return void noCode++
  if (behaviour === "wrong-then-right") for (let i = 0; i < 1 + Math.floor(Math.random() * 2); i++) await served("verify", () => api.verify(id, wrong(code)))
  if (behaviour === "wrong-out") {
    for (let i = 0; i < 5; i++) await served("verify", () => api.verify(id, wrong(code)))
    await served("verify", () => api.verify(id, code)) // 410: the code is void
    return void (await served("cancel", () => api.cancel(id)))
  }
  const verified = await api.verifyLatest(id, phone, code, 120_000)
  record("verify", verified.answers)
  replacedCodes += verified.replaced
  if (behaviour === "cancel-after-verify") {
    await sleep(Math.random() * 2_000)
    return void (await served("cancel", () => api.cancel(id)))
  }
  const reads = behaviour === "status-reader" ? 30 : 2
  for (let i = 0; i < reads; i++) {
    await sleep(1_000)
    const shown = await served("show", () => api.show(id))
    if (TERMINAL_STATUSES.includes(String(shown?.body.status))) break
  }
}

const startedAt = Date.now()
const endsAt = startedAt + DURATION_MS
const visits: Array<Promise<void>> = []
const traffic = (async () => {
  for (let i = 0; Date.now() < endsAt; i++) {
    visitors++
    visits.push(visit().catch((error: unknown) => void unexpected.push(`a visitor failed: ${String(error)}`)))
    await sleep(Math.max(0, startedAt + ((i + 1) * 1000) / RATE - Date.now()))
  }
})()

// ---------------------------------------------------------------------------------------------
// faults

const FAULTS: Record<string, () => Promise<void>> = {
  "worker SIGKILL + restart": async () => {
    // the youngest: the first worker lives through the whole soak, so its RSS is judged from the warm-up to the end
    const victim = liveWorkers().at(-1) as AppProcess
    victim.killed = true
    victim.child.kill("SIGKILL")
    await new Promise((resolve) => (victim.child.exitCode !== null || victim.child.signalCode !== null ? resolve(undefined) : victim.child.once("exit", resolve)))
    const replacement = await startWorker()
    log(`  ${victim.label} killed; ${replacement.label} ready`)
  },
  "worker SIGSTOP past the lease + SIGCONT": async () => {
    const victim = pick(liveWorkers())
    const before = victim.output().split("presumed dead").length
    process.kill(victim.pid, "SIGSTOP")
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline && Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM processes WHERE pid = $1", [victim.pid]))[0]?.n) > 0) await sleep(250)
    process.kill(victim.pid, "SIGCONT")
    while (Date.now() < deadline + 30_000 && victim.output().split("presumed dead").length === before) await sleep(250)
    log(`  ${victim.label} paused until presumed dead, resumed: ${victim.output().split("presumed dead").length > before ? "learnt it was presumed dead" : "did not say it was presumed dead"}`)
  },
  "PostgreSQL fast shutdown + restart": async () => {
    await server.release()
    await sleep(3_000)
    server = await startEmbedded({ root: dataRoot, database: "soak", log: () => {}, port: pgPort })
    await ready(web)
  },
  "PostgreSQL immediate shutdown + restart": async () => {
    const pidFile = path.join(server.dataDir, "postmaster.pid")
    process.kill(Number((await fs.readFile(pidFile, "utf8")).split("\n")[0]), "SIGQUIT")
    while (await fs.stat(pidFile).then(() => true, () => false)) await sleep(100)
    await sleep(3_000)
    server = await startEmbedded({ root: dataRoot, database: "soak", log: () => {}, port: pgPort })
    await ready(web)
  },
  "Twilio 503 storm": async () => {
    await api.faults({ calls: { status: 503 }, messages: { status: 503 } })
    await sleep(6_000)
    await api.faults()
  },
  "Twilio 429 with Retry-After": async () => {
    const retryAfter = 1 + Math.floor(Math.random() * 8)
    await api.faults({ calls: { status: 429, retryAfter }, messages: { status: 429, retryAfter } })
    await sleep(6_000)
    await api.faults()
  },
  "Twilio create-then-fail": async () => {
    await api.faults({ createThenFail: true })
    await sleep(5_000)
    await api.faults()
  }
}
const injected = new Map<string, number>(Object.keys(FAULTS).map((name) => [name, 0]))
const faults = (async () => {
  let bag: Array<string> = []
  for (;;) {
    await sleep(10_000 + Math.random() * 10_000)
    if (Date.now() > endsAt - 10_000) return
    if (bag.length === 0) bag = Object.keys(FAULTS).sort(() => Math.random() - 0.5)
    const name = bag.shift() as string
    log(`fault: ${name}`)
    const began = Date.now()
    await FAULTS[name]!()
    injected.set(name, (injected.get(name) ?? 0) + 1)
    log(`  over after ${((Date.now() - began) / 1000).toFixed(1)} s`)
  }
})()

const sampler = setInterval(() => void sampleRss(), 5_000)
const progress = setInterval(() => log(`${visitors} visitors, ${accepted.size} accepted, ${unexpected.length} unexpected answers`), 30_000)

// ---------------------------------------------------------------------------------------------
// the end

const failures: Array<string> = []
try {
  await Promise.all([traffic, faults])
  log(`traffic stopped after ${visitors} visitors; waiting for the ${visits.length} visits in flight`)
  await Promise.all(visits)
  clearInterval(progress)
  const phones = businesses.map((b) => b.phone)
  const ids = [...accepted]
  const ownedBy = businesses.map((b) => b.id)
  const openRequests = async () =>
    Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM callback_requests WHERE business_id = ANY($1) AND status <> ALL($2)", [ownedBy, TERMINAL_STATUSES]))[0]?.n)
  // unverified requests expire after VERIFICATION_CODE_TTL, at the next run of the cleanup (every minute)
  const settleBy = Date.now() + 300_000
  let left: string | undefined = "not yet looked"
  while (Date.now() < settleBy) {
    const open = await openRequests()
    left = (await unsettled(databaseUrl, ids, phones)) ?? (open > 0 ? `${open} requests (accepted or not) not terminal` : undefined)
    if (left === undefined) break
    await sleep(1_000)
  }
  log(left === undefined ? "settled" : `did not settle within 5 minutes: ${left}`)
  await sampleRss()
  clearInterval(sampler)

  const check = await totalCheck({ databaseUrl, simulatorUrl: simulator.url, businesses, accepted: ids })
  const stored = await query<{ id: string }>(databaseUrl, "SELECT id FROM callback_requests WHERE business_id = ANY($1)", [ownedBy])
  const orphans = stored.filter((r) => !accepted.has(r.id)).length

  // RSS: each process alive at the end, from its first sample after the warm-up to the last
  const rssRows = processes.map((app) => {
    const base = app.rss.find((s) => s.at >= Math.max(app.bornAt, startedAt) + WARMUP_MS)
    const last = app.rss.at(-1)
    const first = app.rss[0]
    const mb = (kb: number | undefined) => (kb === undefined ? "-" : (kb / 1024).toFixed(0))
    const alive = !app.killed && app.child.exitCode === null
    const judged = alive && base !== undefined && last !== undefined && last.at - base.at >= 30_000
    const growth = judged ? (last.kb - base.kb) / base.kb : undefined
    const note = !alive ? "killed by a fault" : judged ? "" : "not judged: started too late"
    const most = app.rss.length === 0 ? undefined : Math.max(...app.rss.map((s) => s.kb))
    return { label: app.label, first: mb(first?.kb), base: mb(base?.kb), most: mb(most), last: mb(last?.kb), growth, note }
  })
  const grown = rssRows.filter((r) => r.growth !== undefined && r.growth >= RSS_GROWTH_LIMIT)
  const judged = rssRows.filter((r) => r.growth !== undefined)

  const verdicts: Array<Verdict> = [
    ...check.verdicts,
    { name: "settled (every request terminal, nothing running)", pass: left === undefined, detail: left ?? "yes" },
    { name: "no answer the API does not document (no 500)", pass: unexpected.length === 0, detail: unexpected.length === 0 ? "none" : `${unexpected.length}: ${unexpected.slice(0, 3).join(" | ")}` },
    { name: "no connection error to the web process", pass: connectionErrors.length === 0, detail: connectionErrors.length === 0 ? "none" : `${connectionErrors.length}: ${connectionErrors.slice(0, 3).join(" | ")}` },
    { name: "idempotent replays give back the same request", pass: replayMismatches.length === 0, detail: replayMismatches.length === 0 ? `${behaviours.get("replayed") ?? 0} visitors sent a create twice` : replayMismatches.slice(0, 3).join(" | ") },
    { name: "no app process exited by itself", pass: unexpectedExits.length === 0, detail: unexpectedExits.length === 0 ? "none" : unexpectedExits.map((e) => e.split("\n")[0]).join(" | ") },
    {
      name: `RSS growth of each app process < ${RSS_GROWTH_LIMIT * 100} %`,
      pass: grown.length === 0 && judged.length > 0,
      detail: judged.length === 0 ? "no process lived long enough to judge" : judged.map((r) => `${r.label} ${((r.growth ?? 0) * 100).toFixed(1)} %`).join(", ")
    }
  ]
  failures.push(...verdicts.filter((v) => !v.pass).map((v) => v.name))

  const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) => {
    const cells = [head, ...rows.map((r) => r.map(String))]
    const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
    for (const row of cells) console.log("  " + row.map((cell, i) => (cell ?? "").padEnd(widths[i] ?? 0)).join("  "))
  }
  console.log(`\nSoak: ${MINUTES} minute(s), ${RATE} visitors/s, ${os.cpus().length} cores, load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
  console.log("\nRequests")
  table(["what", "count"], [
    ["visitors", visitors],
    ["accepted (202)", accepted.size],
    ["creates refused or lost (visitor gave up)", refusedCreates],
    ["code never arrived (visitor gave up)", noCode],
    ["first code replaced by a newer text (verify 400, then the newer code)", replacedCodes],
    ["requests no visitor was told of (left to expire)", orphans],
    ["calls placed", check.calls],
    ...[...behaviours.entries()].sort().map(([name, n]) => [`behaviour: ${name}`, n] as const)
  ])
  console.log("\nOutcomes of the accepted requests")
  table(["status", "count"], Object.entries(check.outcomes).sort())
  console.log("\nAnswers")
  table(["operation status", "count"], [...answers.entries()].sort())
  console.log("\nFaults injected")
  table(["fault", "count"], [...injected.entries()])
  console.log("\nRSS (MB)")
  table(["process", "first", "after warm-up", "largest", "end", "growth", ""], rssRows.map((r) => [r.label, r.first, r.base, r.most, r.last, r.growth === undefined ? "-" : `${(r.growth * 100).toFixed(1)} %`, r.note]))
  console.log("\nChecks")
  table(["check", "result", "detail"], verdicts.map((v) => [v.name, v.pass ? "pass" : "FAIL", v.detail]))
  if (unexpectedExits.length > 0) console.log(`\nProcesses that exited by themselves:\n${unexpectedExits.join("\n\n")}`)
  console.log(failures.length === 0 ? "\nAll checks passed." : `\n${failures.length} check(s) failed: ${failures.join("; ")}`)
} catch (error) {
  console.error("the soak could not run to its end:", error)
  failures.push("the soak itself")
} finally {
  clearInterval(sampler)
  clearInterval(progress)
  await cleanUp()
}
process.exit(failures.length === 0 ? 0 : 1)
