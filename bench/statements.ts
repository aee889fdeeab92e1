/**
 * `npm run bench:statements`: the SQL statements one request costs, listed in
 * the order the app sends them. Each statement is a round trip to PostgreSQL
 * (and on a small VM a `writev` and a wake-up of a backend), so their number
 * is the first thing to look at when a path is slow (docs/benchmarks.md).
 *
 * The platform runs in this process (the layers of `npm start`, with the
 * in-process simulator) on a throwaway embedded PostgreSQL; every query any
 * `pg` client of the process sends is recorded. Measured, each after the app
 * has settled: a lookup of an unknown request (a business's secret key), and a
 * create (the same key) followed by its verification text (the job's claim, the
 * text, the completion, and the simulator's two delivery reports). The
 * process's background statements (heartbeats, polls, the promoter) that fall
 * inside a window are listed too, marked, and left out of the counts.
 */
import { randomUUID } from "node:crypto"
import pg from "pg"
import { freshDatabase, runBench, sleep } from "./harness.ts"
import { addBusinesses, createRequests, startProduct } from "./product.ts"

/** Statements that run on timers, whatever the requests: heartbeats, rescues, promotion, pauses, gauges (and claims that find nothing). */
const BACKGROUND = [/^UPDATE processes SET heartbeat_at/, /^DELETE FROM processes WHERE heartbeat_at/, /^WITH lost AS/, /^WITH due AS/, /^SELECT min\(run_at\)/, /^SELECT queue, paused_at/, /^SELECT .* FROM job_slot_leases/]

interface Sent {
  readonly text: string
  /** A claim that came back with no job: a poll, whatever the requests. */
  idle: boolean
}

let recording: Array<Sent> | undefined
const query = pg.Client.prototype.query as (...args: Array<unknown>) => unknown
pg.Client.prototype.query = function (this: pg.Client, ...args: Array<unknown>) {
  if (recording === undefined) return query.apply(this, args)
  const first = args[0] as string | { text?: string; callback?: unknown } | undefined
  const sent: Sent = { text: (typeof first === "string" ? first : (first?.text ?? "?")).replace(/\s+/g, " ").trim(), idle: false }
  recording.push(sent)
  const claim = sent.text.includes("jobs_claim(")
  const judge = (r: pg.QueryResult<{ claimed: unknown }> | undefined) => {
    const claimed = r?.rows?.[0]?.claimed
    if (claim) sent.idle = claimed === null || claimed === undefined || (Array.isArray(claimed) && claimed.length === 0)
  }
  // the answer comes to a callback (the last argument, or the config's), or as a promise
  const last = args[args.length - 1]
  if (typeof last === "function") {
    args[args.length - 1] = (error: unknown, r: pg.QueryResult<{ claimed: unknown }>) => {
      judge(r)
      return (last as (e: unknown, r: unknown) => unknown)(error, r)
    }
  } else if (typeof first === "object" && typeof first?.callback === "function") {
    const callback = first.callback as (e: unknown, r: unknown) => unknown
    first.callback = (error: unknown, r: pg.QueryResult<{ claimed: unknown }>) => {
      judge(r)
      return callback(error, r)
    }
  }
  const result = query.apply(this, args)
  if (result instanceof Promise) result.then(judge, () => {})
  return result
} as typeof pg.Client.prototype.query

const background = (sent: Sent) => sent.idle || BACKGROUND.some((pattern) => pattern.test(sent.text))

/** Records what `work` sends, then `settleMs` more (the jobs and reports it set off). */
const record = async (what: string, work: () => Promise<void>, settleMs: number) => {
  recording = []
  await work()
  await sleep(settleMs)
  const sent = recording
  recording = undefined
  await sleep(100) // the last claims' answers
  console.log(`## ${what}: ${sent.filter((s) => !background(s)).length} statements`)
  console.log("")
  for (const s of sent) console.log(`${background(s) ? "  (background) " : "- "}${s.text.slice(0, 150)}`)
  console.log("")
}

runBench(async (adminUrl) => {
  const product = await startProduct(await freshDatabase(adminUrl, "statements"), { LOG_LEVEL: "error" })
  try {
    const [business, warm] = await addBusinesses(product, 2, 5, 50, 50)
    const { data } = await product.admin.POST("/admin/api/businesses/{id}/keys", { params: { path: { id: business ?? "" } }, body: { kind: "secret", label: "statements" } })
    if (data === undefined) throw new Error("no key")
    const headers = { authorization: `Bearer ${data.key}` }
    // warm: every path once (prepared plans, pool connections, caches)
    await createRequests(product, [warm ?? ""], 3, 1)
    await product.api.GET("/v1/callbacks/{id}", { params: { path: { id: randomUUID() } }, headers })
    await sleep(500)

    await record("GET /v1/callbacks/{unknown id}", async () => {
      const { response } = await product.api.GET("/v1/callbacks/{id}", { params: { path: { id: randomUUID() } }, headers })
      if (response.status !== 404) throw new Error(`lookup answered ${response.status}`)
    }, 0)
    await record("POST /v1/callbacks, then its text's job and delivery reports", async () => {
      const { response } = await product.api.POST("/v1/callbacks", { body: { phone: "+16505550142" }, headers })
      if (response.status !== 202) throw new Error(`create answered ${response.status}`)
    }, 1_000)
  } finally {
    await product.dispose()
  }
})
