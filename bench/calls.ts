/**
 * `npm run bench:calls`: how many calls one process keeps in progress, and
 * with how few runners. The platform runs in this process (the layers of
 * `npm start`) on a throwaway embedded PostgreSQL with BENCH_RUNNERS (10)
 * runners on the `calls` queue, which run every dial and every call watcher.
 * BENCH_CALLS (1,000) requests over BENCH_BUSINESSES (100) businesses, whose
 * maxConcurrentCalls is their share, are created and verified over HTTP; the
 * simulator answers each call after BENCH_RING_MS (50) and talks for
 * BENCH_TALK_MS (90,000), longer than it takes to place them all.
 *
 * Printed: the most calls in progress at once (answered, not ended, read from
 * the attempts every 100 ms), how long from the first verification until
 * then, the most `calls` jobs claimed at once (the runners' jobs plus as many
 * prefetched, with outcomes written in batches: about twice the runners), and,
 * once every call has ended, that every request completed and no business
 * slot is still held. A dial holding its runner through its call would cap
 * the calls in progress at BENCH_RUNNERS.
 */
import pg from "pg"
import { env, freshDatabase, runBench, sleep } from "./harness.ts"
import { addBusinesses, createRequests, startProduct, verifyAll } from "./product.ts"

const CALLS = env("BENCH_CALLS", 1_000)
const BUSINESSES = env("BENCH_BUSINESSES", 100)
const RUNNERS = env("BENCH_RUNNERS", 10)
const RING_MS = env("BENCH_RING_MS", 50)
const TALK_MS = env("BENCH_TALK_MS", 90_000)
const PARALLEL = env("BENCH_CREATE_PARALLEL", 20)

runBench(async (adminUrl) => {
  const slots = Math.ceil(CALLS / BUSINESSES)
  console.log(`calls: ${CALLS} over ${BUSINESSES} businesses x ${slots} slots, ${RUNNERS} runners on the calls queue, ring ${RING_MS} ms, talk ${TALK_MS} ms`)
  const databaseUrl = await freshDatabase(adminUrl, "calls")
  const product = await startProduct(databaseUrl, { QUEUES: `default:4,calls:${RUNNERS},sms:20` })
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const businesses = await addBusinesses(product, BUSINESSES, slots, RING_MS, TALK_MS)
    const { requests } = await createRequests(product, businesses, CALLS, PARALLEL)
    console.log(`${CALLS} requests created and their codes texted`)

    // watched from the rows, so that watching does not load the server
    let peak = 0
    let peakAt = 0
    let mostRunning = 0
    let watching = true
    const started = performance.now()
    const watcher = (async () => {
      while (watching) {
        const { rows } = await client.query<{ talking: number; running: number }>(`
          SELECT (SELECT count(*) FROM call_attempts WHERE answered AND ended_at IS NULL)::int AS talking,
                 (SELECT count(*) FROM jobs WHERE queue = 'calls' AND state = 'running')::int AS running`)
        const { talking = 0, running = 0 } = rows[0] ?? {}
        if (talking > peak) {
          peak = talking
          peakAt = performance.now() - started
        }
        mostRunning = Math.max(mostRunning, running)
        await sleep(100)
      }
    })()
    await verifyAll(product, requests, PARALLEL)
    const verifiedIn = performance.now() - started

    const deadline = Date.now() + TALK_MS + 300_000
    for (;;) {
      const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM callback_requests WHERE status IN ('completed', 'failed')")
      if ((rows[0]?.n ?? 0) >= CALLS) break
      if (Date.now() > deadline) throw new Error(`only ${rows[0]?.n} of ${CALLS} requests finished`)
      await sleep(500)
    }
    watching = false
    await watcher
    const { rows } = await client.query<{ completed: number; attempts: number; leases: number }>(`
      SELECT (SELECT count(*) FROM callback_requests WHERE status = 'completed')::int AS completed,
             (SELECT count(*) FROM call_attempts)::int AS attempts,
             (SELECT count(*) FROM job_slot_leases)::int AS leases`)
    const end = rows[0]
    console.log("")
    console.log("| metric | value |")
    console.log("|---|---|")
    console.log(`| calls in progress at once (most) | ${peak} of ${CALLS} |`)
    console.log(`| first verify -> that many in progress | ${(peakAt / 1000).toFixed(1)} s (the verifies took ${(verifiedIn / 1000).toFixed(1)} s) |`)
    console.log(`| calls jobs claimed at once (most; running and prefetched) | ${mostRunning} (runners: ${RUNNERS}, prefetch ${RUNNERS}) |`)
    console.log(`| requests completed | ${end?.completed} of ${CALLS}, ${end?.attempts} call attempts |`)
    console.log(`| business slots still held at the end | ${end?.leases} |`)
  } finally {
    await client.end()
    await product.dispose()
  }
})
