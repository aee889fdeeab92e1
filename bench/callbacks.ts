/**
 * `npm run bench:callbacks`: the callback platform end to end, in one process
 * (the same layers as `npm start`) on a throwaway embedded PostgreSQL, with
 * the in-process Twilio simulator answering every call after BENCH_RING_MS
 * (50) and talking for BENCH_TALK_MS (50).
 *
 * Each round creates BENCH_CALLBACKS (200) requests over HTTP spread over
 * BENCH_BUSINESSES (20) businesses (maxConcurrentCalls BENCH_SLOTS, 5), reads
 * every code from the simulator, verifies them all at once, and waits until
 * every request is `completed`. Reported per round, then the median of
 * BENCH_ROUNDS (3):
 * - create: HTTP latency of POST /v1/callbacks (p50, p99), requests sent BENCH_CREATE_PARALLEL (20) at a time,
 *   and creates per second over the whole create phase;
 * - drain: callbacks completed per second, from the first verification to the last completion;
 * - verify -> completed: per request (p50, p99), which includes ring and talk time
 *   (read from the rows: the first dial job's creation to the request's finish).
 * BENCH_BREAKDOWN=1 also prints where a call's time goes (medians).
 *
 * It measures the platform's own overhead around calls (queues, slots,
 * settlement, webhooks, polling), not Twilio. Prints a markdown table.
 */
import pg from "pg"
import { env, freshDatabase, median, percentile, runBench } from "./harness.ts"
import { addBusinesses, createRequests, startProduct, verifyAll } from "./product.ts"

const CALLBACKS = env("BENCH_CALLBACKS", 200)
const BUSINESSES = env("BENCH_BUSINESSES", 20)
const SLOTS = env("BENCH_SLOTS", 5)
const ROUNDS = env("BENCH_ROUNDS", 3)
const RING_MS = env("BENCH_RING_MS", 50)
const TALK_MS = env("BENCH_TALK_MS", 50)
const CREATE_PARALLEL = env("BENCH_CREATE_PARALLEL", 20)

interface Round {
  readonly createP50: number
  readonly createP99: number
  readonly createsPerSecond: number
  readonly perSecond: number
  readonly doneP50: number
  readonly doneP99: number
}

const round = async (adminUrl: string, n: number): Promise<Round> => {
  const databaseUrl = await freshDatabase(adminUrl, `callbacks_${n}`)
  const product = await startProduct(databaseUrl, { QUEUES: `default:4,calls:${BUSINESSES * SLOTS},sms:20` })
  try {
    const businesses = await addBusinesses(product, BUSINESSES, SLOTS, RING_MS, TALK_MS)
    const { requests, createMs, createsPerSecond } = await createRequests(product, businesses, CALLBACKS, CREATE_PARALLEL)
    await verifyAll(product, requests, CREATE_PARALLEL)

    // completion is read from the rows (one query), so that watching does not load the server or lag behind it
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      const deadline = Date.now() + 300_000
      for (;;) {
        const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM callback_requests WHERE status = 'completed'")
        if ((rows[0]?.n ?? 0) >= CALLBACKS) break
        if (Date.now() > deadline) throw new Error(`only ${rows[0]?.n} of ${CALLBACKS} callbacks completed`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      // verify -> completed per request: from its first dial job (enqueued by the verification) to its finish
      const { rows } = await client.query<{ ms: number; first: Date; last: Date }>(`
        SELECT extract(epoch FROM r.finished_at - d.created_at) * 1000 AS ms, d.created_at AS first, r.finished_at AS last
          FROM callback_requests r
          JOIN LATERAL (SELECT min(created_at) AS created_at FROM jobs WHERE kind = 'callback.dial' AND args->>'callbackId' = r.id::text) d ON true`)
      const doneMs = rows.map((r) => Number(r.ms))
      const span = (Math.max(...rows.map((r) => r.last.getTime())) - Math.min(...rows.map((r) => r.first.getTime()))) / 1000
      if (process.env.BENCH_BREAKDOWN !== undefined) await breakdown(client)
      return { createP50: median(createMs), createP99: percentile(createMs, 99), createsPerSecond, perSecond: CALLBACKS / span, doneP50: median(doneMs), doneP99: percentile(doneMs, 99) }
    } finally {
      await client.end()
    }
  } finally {
    await product.dispose()
  }
}

/** Where a callback's time goes, from the rows (medians, ms): printed with BENCH_BREAKDOWN=1. */
const breakdown = async (client: pg.Client) => {
  const { rows } = await client.query(`
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM j.attempted_at - j.created_at) * 1000) AS enqueued_to_claimed,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.started_at - j.attempted_at) * 1000) AS claimed_to_attempt,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM j.finished_at - a.started_at) * 1000) AS attempt_to_job_done,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.ended_at - a.started_at) * 1000) AS call
      FROM call_attempts a
      JOIN jobs j ON j.kind = 'callback.dial' AND j.args->>'callbackId' = a.callback_id::text AND j.state = 'completed'`)
  console.log("breakdown (median ms):", JSON.stringify(rows[0]))
}

runBench(async (adminUrl) => {
  console.log(`callbacks: ${CALLBACKS} over ${BUSINESSES} businesses x ${SLOTS} slots, ring ${RING_MS} ms, talk ${TALK_MS} ms, ${ROUNDS} rounds`)
  const rounds: Array<Round> = []
  for (let n = 1; n <= ROUNDS; n++) {
    const r = await round(adminUrl, n)
    rounds.push(r)
    console.log(
      `round ${n}: create p50 ${r.createP50.toFixed(1)} ms p99 ${r.createP99.toFixed(1)} ms, ${r.createsPerSecond.toFixed(0)} creates/s; ${r.perSecond.toFixed(1)} callbacks/s; verify->completed p50 ${r.doneP50.toFixed(0)} ms p99 ${r.doneP99.toFixed(0)} ms`
    )
  }
  const of = (f: (r: Round) => number) => median(rounds.map(f))
  console.log("")
  console.log("| metric | median of rounds |")
  console.log("|---|---|")
  console.log(`| POST /v1/callbacks p50 | ${of((r) => r.createP50).toFixed(1)} ms |`)
  console.log(`| POST /v1/callbacks p99 | ${of((r) => r.createP99).toFixed(1)} ms |`)
  console.log(`| creates per second | ${of((r) => r.createsPerSecond).toFixed(0)} |`)
  console.log(`| callbacks completed per second | ${of((r) => r.perSecond).toFixed(1)} |`)
  console.log(`| verify -> completed p50 | ${of((r) => r.doneP50).toFixed(0)} ms |`)
  console.log(`| verify -> completed p99 | ${of((r) => r.doneP99).toFixed(0)} ms |`)
})
