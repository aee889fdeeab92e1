/**
 * `npm run bench:sms`: how fast the SMS path drains, and that it keeps each
 * sender's pace. The platform runs in this process (the layers of `npm start`)
 * on a throwaway embedded PostgreSQL; the Twilio simulator runs as a process
 * of its own (`switchboard simulator`), as Twilio would be elsewhere, and sends
 * its delivery reports back to the app.
 *
 * Drain: BENCH_SMS_TEXTS (5,000) requests awaiting their code are written
 * straight to the database (the create path is `bench:load`'s subject), and a
 * `verification.send` job is enqueued for each exactly as a create enqueues
 * it (the visitor's sender of the pool, under its rate key) while the `sms`
 * queue is paused. The pool is BENCH_SMS_SENDERS (50) numbers at
 * BENCH_SMS_RATE (100) texts per second each, more than the path can use, so
 * rates hold nothing back; the queue runs BENCH_SMS_CONCURRENCY (50) jobs at
 * once. The queue is resumed and the clock runs until every job is completed
 * (each has drawn a code, stored its hash and the text's row, had the
 * simulator take the text and recorded it as sent). Printed per round and as
 * the median of BENCH_ROUNDS (3): jobs drained per second.
 *
 * Engine alone: the same number of no-op jobs on a queue no pool serves,
 * claimed 100 at a time and completed at once by hand, without and then with
 * the pool's rate keys (at 1,000 per second each, never reached): what the
 * engine's part of a text costs, and rate keys' share of it.
 *
 * Pace: BENCH_PACE_TEXTS (100) texts the same way from BENCH_PACE_SENDERS (2)
 * numbers at BENCH_PACE_RATE (5) per second. Printed per sender, from the
 * simulator's own clock: texts, texts per second sustained (over first to last
 * plus the window the last one opened), and the most texts in any one second
 * (never above the rate).
 *
 * BENCH_CPU_PROFILE=file.cpuprofile writes a V8 CPU profile of this process (the app) over the first
 * round's drain; open it in Chrome's DevTools.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as inspector from "node:inspector/promises"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import pg from "pg"
import { VerificationSend } from "../domain/callbacks/Jobs.ts"
import { senderFor, senderRateKey } from "../domain/callbacks/SmsSenders.ts"
import { defineJob } from "../domain/jobs/JobDefinition.ts"
import { type EnqueueOptions, enqueueMany } from "../infra/jobs/Jobs.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../infra/jobs/ProcessRegistry.ts"
import { TwilioGateway } from "../infra/twilio/TwilioGateway.ts"
import { env, freshDatabase, median, runBench, sleep } from "./harness.ts"
import { type Product, startProduct } from "./product.ts"

const TEXTS = env("BENCH_SMS_TEXTS", 5_000)
const SENDERS = env("BENCH_SMS_SENDERS", 50)
const RATE = env("BENCH_SMS_RATE", 100)
const CONCURRENCY = env("BENCH_SMS_CONCURRENCY", 50)
const ROUNDS = env("BENCH_ROUNDS", 3)
const PACE_TEXTS = env("BENCH_PACE_TEXTS", 100)
const PACE_SENDERS = env("BENCH_PACE_SENDERS", 2)
const PACE_RATE = env("BENCH_PACE_RATE", 5)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** `n` numbers of a pool, starting at `base`. */
const pool = (n: number, base: number) => Array.from({ length: n }, (_, i) => `+1415${String(base + i).padStart(7, "0")}`)

/** A port nobody listens on now. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** `switchboard simulator` on a free port, once it answers. */
const startSimulator = async (): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const url = `http://127.0.0.1:${await freePort()}`
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "simulator"], {
    cwd: root,
    env: { ...process.env, SIMULATOR_PORT: new URL(url).port, LOG_LEVEL: "warning" },
    stdio: "ignore"
  })
  const deadline = Date.now() + 60_000
  while (!(await fetch(`${url}/sim/stats`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("the simulator did not start")
    await sleep(100)
  }
  // a bench that stops early (an error, a closed pipe) must not leave it behind
  process.once("exit", () => child.kill("SIGTERM"))
  return { url, child }
}

/** The platform on a fresh database with this pool, the sms queue paused, and `count` requests awaiting codes, their texts enqueued. */
const prepare = async (adminUrl: string, name: string, simulator: string, senders: ReadonlyArray<string>, rate: number, count: number) => {
  const databaseUrl = await freshDatabase(adminUrl, name)
  const product = await startProduct(databaseUrl, {
    TWILIO_SIMULATOR_URL: simulator,
    TWILIO_SMS_SENDERS: senders.join(","),
    SMS_SENDER_RATE: String(rate),
    QUEUES: `default:2,calls:2,sms:${CONCURRENCY},webhooks:2`,
    BUDGET_SMS_PER_BUSINESS: "off",
    BUDGET_SMS_ACCOUNT: "off"
  })
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const paused = await product.admin.POST("/admin/api/queues/{queue}/pause", { params: { path: { queue: "sms" } } })
  if (paused.response.status !== 200) throw new Error(`pause answered ${paused.response.status}`)
  const business = await product.admin.POST("/admin/api/businesses", { body: { name: "Bench", phone: "+14155550000", timezone: "UTC" } })
  if (business.data === undefined) throw new Error(`business answered ${business.response.status}`)
  const requests = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), phone: `+1650${String(1_000_000 + i).padStart(7, "0")}` }))
  await db.query(
    `INSERT INTO callback_requests (id, business_id, phone, name, status)
     SELECT id, $1, phone, 'Bench', 'pending_verification' FROM unnest($2::uuid[], $3::text[]) AS r(id, phone)`,
    [business.data.id, requests.map((r) => r.id), requests.map((r) => r.phone)]
  )
  await db.query("INSERT INTO verifications (callback_id) SELECT unnest($1::uuid[])", [requests.map((r) => r.id)])
  // as a create enqueues the code's text (src/callbacks/Texts.ts): the visitor's sender, under its rate key
  const gateway = await product.runtime.runPromise(TwilioGateway)
  for (let i = 0; i < requests.length; i += 1_000) {
    const items = requests.slice(i, i + 1_000).map((r) => {
      const from = senderFor(r.phone, gateway.smsSenders)
      return { args: { callbackId: r.id, from }, options: { rateKey: senderRateKey(from), rateLimit: gateway.smsPace } }
    })
    await product.runtime.runPromise(enqueueMany(VerificationSend, items))
  }
  return { product, db }
}

/** Resumes the sms queue and waits for every text job to complete; the seconds it took. */
const drain = async (product: Product, db: pg.Client, count: number): Promise<number> => {
  const started = performance.now()
  const resumed = await product.admin.POST("/admin/api/queues/{queue}/resume", { params: { path: { queue: "sms" } } })
  if (resumed.response.status !== 200) throw new Error(`resume answered ${resumed.response.status}`)
  const deadline = Date.now() + 600_000
  for (;;) {
    const { rows } = await db.query<{ done: number; dead: number }>(
      "SELECT count(*) FILTER (WHERE state = 'completed')::int AS done, count(*) FILTER (WHERE state = 'discarded')::int AS dead FROM jobs WHERE kind = 'verification.send'"
    )
    const { done = 0, dead = 0 } = rows[0] ?? {}
    if (dead > 0) throw new Error(`${dead} text jobs were discarded`)
    if (done >= count) return (performance.now() - started) / 1000
    if (Date.now() > deadline) throw new Error(`only ${done} of ${count} texts were sent`)
    await sleep(10)
  }
}

/** Runs `work` under the V8 profiler when `file` is given, and writes the profile there (open it in Chrome's DevTools). */
const profiled = async <A>(file: string | undefined, work: () => Promise<A>): Promise<A> => {
  if (file === undefined) return work()
  const session = new inspector.Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  try {
    return await work()
  } finally {
    const { profile } = await session.post("Profiler.stop")
    await fs.writeFile(file, JSON.stringify(profile))
    session.disconnect()
  }
}

/** A job that does nothing, on a queue no pool serves: the engine's own part of a text, claimed and completed by hand. */
const Noop = defineJob({ kind: "bench.noop", queue: "bench-engine", args: Schema.Struct({ n: Schema.Number }) })

/**
 * The engine alone: `count` no-op jobs, under the pool's rate keys (at 1,000 per second each, so that they
 * cost what they cost without holding anything back) or none, claimed 100 at a time by one process and
 * completed at once, in the platform's own database; jobs per second.
 */
const engineOnly = (product: Product, senders: ReadonlyArray<string>, keyed: boolean, count: number) =>
  product.runtime.runPromise(
    Effect.gen(function* () {
      const store = yield* JobStore
      const id = randomUUID()
      yield* (yield* ProcessRegistry).register({ id, role: "bench", hostname: "bench", pid: process.pid, queues: {} })
      const items = Array.from({ length: count }, (_, n) => {
        const from = senderFor(`+1650${String(2_000_000 + n)}`, senders)
        const options: EnqueueOptions = keyed ? { rateKey: senderRateKey(from), rateLimit: { count: 1_000, per: "1 second" } } : {}
        return { args: { n }, options }
      })
      for (let i = 0; i < items.length; i += 1_000) yield* enqueueMany(Noop, items.slice(i, i + 1_000))
      const started = performance.now()
      let done = 0
      while (done < count) {
        const claimed = yield* store.claim(Noop.queue, [Noop.kind], 100, id, "30 seconds")
        if (claimed.length === 0) yield* Effect.sleep("5 millis")
        done += (yield* store.complete(claimed.map((job) => ({ id: job.id, lease: job.lease })))).length
      }
      yield* (yield* ProcessRegistry).deregister(id)
      return count / ((performance.now() - started) / 1000)
    })
  )

interface SentText {
  readonly from: string
  readonly createdAt: string
}

runBench(async (adminUrl) => {
  const simulator = await startSimulator()
  try {
    console.log(`sms drain: ${TEXTS} texts from ${SENDERS} senders at ${RATE}/s each, sms queue concurrency ${CONCURRENCY}, ${ROUNDS} rounds`)
    const rates: Array<number> = []
    for (let n = 1; n <= ROUNDS; n++) {
      await fetch(`${simulator.url}/sim/reset`, { method: "POST" })
      const { product, db } = await prepare(adminUrl, `sms_${n}`, simulator.url, pool(SENDERS, 5_550_100), RATE, TEXTS)
      try {
        const seconds = await profiled(n === 1 ? process.env["BENCH_CPU_PROFILE"] : undefined, () => drain(product, db, TEXTS))
        const texts = ((await (await fetch(`${simulator.url}/sim/stats`)).json()) as { messages: number }).messages
        if (texts !== TEXTS) throw new Error(`the simulator took ${texts} texts, not ${TEXTS}`)
        rates.push(TEXTS / seconds)
        console.log(`round ${n}: ${TEXTS} texts in ${seconds.toFixed(2)} s, ${(TEXTS / seconds).toFixed(0)} jobs/s`)
      } finally {
        await db.end()
        await product.dispose()
      }
    }

    console.log("")
    console.log(`engine alone: ${TEXTS} no-op jobs claimed 100 at a time and completed at once, without and with the senders' rate keys (1,000/s each)`)
    const engine = { keyed: 0, plain: 0 }
    {
      const senders = pool(SENDERS, 5_550_100)
      const { product, db } = await prepare(adminUrl, "sms_engine", simulator.url, senders, RATE, 0)
      try {
        engine.plain = await engineOnly(product, senders, false, TEXTS)
        engine.keyed = await engineOnly(product, senders, true, TEXTS)
        console.log(`without rate keys ${engine.plain.toFixed(0)} jobs/s, with ${engine.keyed.toFixed(0)} jobs/s`)
      } finally {
        await db.end()
        await product.dispose()
      }
    }

    console.log("")
    console.log(`sms pace: ${PACE_TEXTS} texts from ${PACE_SENDERS} senders at ${PACE_RATE}/s each`)
    await fetch(`${simulator.url}/sim/reset`, { method: "POST" })
    const senders = pool(PACE_SENDERS, 5_550_900)
    const { product, db } = await prepare(adminUrl, "sms_pace", simulator.url, senders, PACE_RATE, PACE_TEXTS)
    const paced: Array<{ sender: string; texts: number; perSecond: number; mostInOneSecond: number }> = []
    try {
      await drain(product, db, PACE_TEXTS)
      const windowSeconds = Duration.toSeconds((await product.runtime.runPromise(TwilioGateway)).smsPace.per)
      const sent = (await (await fetch(`${simulator.url}/sim/messages`)).json()) as ReadonlyArray<SentText>
      for (const sender of senders) {
        const at = sent.filter((t) => t.from === sender).map((t) => Date.parse(t.createdAt)).sort((a, b) => a - b)
        const first = at[0] ?? 0
        const last = at[at.length - 1] ?? 0
        const mostInOneSecond = Math.max(0, ...at.map((t, i) => at.slice(i).filter((u) => u - t < 1_000).length))
        // sustained: texts per (first to last, plus the window the last one opened)
        paced.push({ sender, texts: at.length, perSecond: at.length / ((last - first) / 1000 + windowSeconds), mostInOneSecond })
      }
    } finally {
      await db.end()
      await product.dispose()
    }

    console.log("")
    console.log("| metric | value |")
    console.log("|---|---|")
    console.log(`| drain, ${TEXTS} texts, ${SENDERS} senders at ${RATE}/s (median of ${ROUNDS}) | ${median(rates).toFixed(0)} jobs/s |`)
    console.log(`| engine alone, ${TEXTS} no-op jobs without rate keys | ${engine.plain.toFixed(0)} jobs/s |`)
    console.log(`| engine alone, the same under ${SENDERS} senders' rate keys (1,000/s each) | ${engine.keyed.toFixed(0)} jobs/s |`)
    for (const p of paced) {
      console.log(`| pace, ${p.sender} at ${PACE_RATE}/s | ${p.texts} texts, ${p.perSecond.toFixed(2)} texts/s sustained, at most ${p.mostInOneSecond} in any second |`)
    }
    console.log("")
    console.log(
      JSON.stringify({
        drain: { texts: TEXTS, senders: SENDERS, rate: RATE, concurrency: CONCURRENCY, jobsPerSecond: rates.map(Math.round), median: Math.round(median(rates)) },
        engine: { jobs: TEXTS, plain: Math.round(engine.plain), keyed: Math.round(engine.keyed) },
        pace: paced
      })
    )
  } finally {
    simulator.child.kill("SIGTERM")
  }
})
