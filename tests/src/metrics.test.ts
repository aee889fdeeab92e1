/**
 * /metrics as Prometheus reads it: valid exposition text (checked by
 * support/prometheus.ts the way `promtool check metrics` checks it; .ci/run
 * also pipes a live server's /metrics through promtool itself), every metric of
 * the catalogue present, and job counters equal to what the jobs actually did,
 * as the database records it. The checker is tested too: it refuses each kind
 * of malformed exposition.
 */
import { readFileSync } from "node:fs"
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CronDefinition, defineCron } from "../../domain/jobs/CronDefinition.ts"
import { type RunningApp, startApp } from "../support/app.ts"
import { thisRuntime } from "../support/runtime.ts"
import { cloneDatabase, query } from "../support/database.ts"
import { count, countReaches } from "../support/ledger.ts"
import { expositionProblems, parseExposition, valueOf } from "../support/prometheus.ts"
import { LEDGER_SQL, Tick } from "../support/testJobs.ts"

const CATALOGUE = [
  "switchboard_http_requests_total",
  "switchboard_http_request_duration_seconds",
  "switchboard_jobs_enqueued_total",
  "switchboard_jobs_finished_total",
  "switchboard_job_duration_seconds",
  "switchboard_job_queue_depth",
  "switchboard_job_oldest_available_age_seconds",
  "switchboard_jobs_rescued_total",
  "switchboard_actor_restarts_total",
  "switchboard_actor_heartbeat_age_seconds",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "nodejs_eventloop_lag_seconds"
]

describe("/metrics", () => {
  let app: RunningApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    await query(url, LEDGER_SQL)
    app = await startApp({ databaseUrl: url })
  })
  afterAll(() => app.dispose())

  const enqueue = async (body: Record<string, unknown>) => {
    const response = await app.request("/admin/api/jobs", { method: "POST", admin: true, body: JSON.stringify(body) })
    expect(response.status).toBe(201)
    return ((await response.json()) as { id: string }).id
  }

  it("is valid exposition text whose job counters match the jobs that ran", async () => {
    for (let i = 0; i < 4; i++) await enqueue({ kind: "test.ledger", args: {} })
    for (let i = 0; i < 2; i++) await enqueue({ kind: "test.ledger", args: { failTimes: 1 } }) // one retry each
    const later = await enqueue({ kind: "test.ledger", args: {}, delaySeconds: 3600 })
    await enqueue({ kind: "test.ledger", args: {}, delaySeconds: 3600 }) // stays scheduled
    expect((await app.request(`/admin/api/jobs/${later}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    await countReaches(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 6, 30_000)

    const response = await app.request("/metrics")
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4")
    const text = await response.text()
    const metrics = parseExposition(text)
    for (const name of CATALOGUE) expect(metrics.types.has(name), name).toBe(true)

    const job = { queue: "default", kind: "test.ledger" }
    const completed = await count(url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'")
    const attempts = await count(url, "SELECT count(*) AS n FROM ledger_starts")
    expect(valueOf(metrics, "switchboard_jobs_enqueued_total", job)).toBe(await count(url, "SELECT count(*) AS n FROM jobs"))
    expect(valueOf(metrics, "switchboard_jobs_finished_total", { ...job, outcome: "completed" })).toBe(completed)
    expect(valueOf(metrics, "switchboard_jobs_finished_total", { ...job, outcome: "retried" })).toBe(attempts - completed)
    expect(valueOf(metrics, "switchboard_jobs_finished_total", { ...job, outcome: "cancelled" })).toBe(1)
    expect(valueOf(metrics, "switchboard_job_duration_seconds_count", job)).toBe(attempts)
    expect(valueOf(metrics, "switchboard_job_queue_depth", { queue: "default", state: "scheduled" })).toBe(1)
    expect(valueOf(metrics, "switchboard_job_queue_depth", { queue: "default", state: "running" })).toBe(0)
    expect(valueOf(metrics, "switchboard_http_requests_total", { method: "POST", route: "/admin/api/jobs", status: "201" })).toBe(8)
    expect(valueOf(metrics, "switchboard_actor_restarts_total", { actor: "notifier" })).toBe(0)
    expect(valueOf(metrics, "switchboard_actor_heartbeat_age_seconds", { actor: "pool:default" })).toBeGreaterThanOrEqual(0)

    expect(expositionProblems(text)).toEqual([])
  })

  it("tells what runs, how ready it is, its database pool, and each queue's runners across the live processes", async () => {
    const metrics = parseExposition(await (await app.request("/metrics")).text())
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    expect(valueOf(metrics, "switchboard_build_info", { version: pkg.version, revision: "unknown", runtime: thisRuntime })).toBe(1)
    expect(valueOf(metrics, "switchboard_ready")).toBe(1)
    expect(valueOf(metrics, "switchboard_database_up")).toBe(1)
    const pool = (state: string) => valueOf(metrics, "switchboard_db_pool_connections", { state }) ?? -1
    expect(pool("max")).toBe(20) // DATABASE_POOL_SIZE's default
    expect(pool("in_use")).toBeGreaterThanOrEqual(0)
    expect(pool("in_use") + pool("idle")).toBeLessThanOrEqual(pool("max"))
    expect(pool("waiting")).toBeGreaterThanOrEqual(0)
    // the runners each queue has, as the live processes registered them
    const [row] = await query<{ queues: Record<string, { concurrency: number }> }>(url, "SELECT queues FROM processes")
    for (const [queue, load] of Object.entries(row?.queues ?? {})) expect(valueOf(metrics, "switchboard_queue_runners", { queue }), queue).toBe(load.concurrency)
    expect(Object.keys(row?.queues ?? {})).toContain("default")
    // the claims the default queue's pool made, by how full they came back, and no job waits for a concurrency slot
    const claims = ["full", "partial", "empty"].map((result) => valueOf(metrics, "switchboard_claims_total", { queue: "default", result }) ?? 0)
    expect(claims.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(valueOf(metrics, "switchboard_jobs_waiting_for_slot", { queue: "default" })).toBe(0)
    expect(valueOf(metrics, "switchboard_job_slot_leases")).toBe(0)
    const age = valueOf(metrics, "switchboard_process_heartbeat_age_seconds") ?? -1
    expect(age).toBeGreaterThanOrEqual(0)
    expect(age).toBeLessThan(10)
  })

  it("answers 401 without and 403 with a wrong METRICS_TOKEN, and serves the right one", async () => {
    const guarded = await startApp({ databaseUrl: url, env: { METRICS_TOKEN: "metrics-token-0123456789" } })
    try {
      expect((await guarded.request("/metrics")).status).toBe(401)
      expect((await guarded.request("/metrics", { headers: { authorization: "Bearer metrics-token-012345678X" } })).status).toBe(403)
      const ok = await guarded.request("/metrics", { headers: { authorization: "Bearer metrics-token-0123456789" } })
      expect(ok.status).toBe(200)
      expect(await ok.text()).toContain("switchboard_jobs_enqueued_total")
    } finally {
      await guarded.dispose()
    }
  })
})

describe("the exposition checker (support/prometheus.ts)", () => {
  /** prom-client's output for one metric of each type, with labels and a label value needing escapes. */
  const valid = async () => {
    const registry = new Registry()
    new Counter({ name: "demo_requests_total", help: "Requests.", labelNames: ["route"], registers: [registry] }).inc({ route: 'a "quoted" \\ path\nnext' }, 2)
    new Gauge({ name: "demo_depth", help: "Depth.", registers: [registry] }).set(Number.NaN)
    const histogram = new Histogram({ name: "demo_duration_seconds", help: "Durations.", labelNames: ["kind"], buckets: [0.1, 1], registers: [registry] })
    for (const [kind, seconds] of [["a", 0.05], ["a", 0.5], ["b", 5]] as const) histogram.observe({ kind }, seconds)
    new Summary({ name: "demo_size_bytes", help: "Sizes.", percentiles: [0.5, 0.99], registers: [registry] }).observe(10)
    return registry.metrics()
  }

  it("finds nothing wrong with prom-client's own output of every metric type", async () => {
    const text = await valid()
    expect(expositionProblems(text)).toEqual([])
    const read = parseExposition(text)
    expect(valueOf(read, "demo_requests_total", { route: 'a "quoted" \\ path\nnext' })).toBe(2)
    expect(valueOf(read, "demo_duration_seconds_bucket", { kind: "a", le: "+Inf" })).toBe(2)
    expect(valueOf(read, "demo_depth")).toBeNaN() // prom-client writes "Nan", which Prometheus reads
  })

  const HISTOGRAM = [
    "# HELP h_seconds H.",
    "# TYPE h_seconds histogram",
    'h_seconds_bucket{le="0.1"} 1',
    'h_seconds_bucket{le="1"} 3',
    'h_seconds_bucket{le="+Inf"} 4',
    "h_seconds_sum 2.5",
    "h_seconds_count 4"
  ]
  const COUNTER = ["# HELP c_total C.", "# TYPE c_total counter", 'c_total{a="x"} 1', 'c_total{a="y"} 2']
  const text = (...lines: ReadonlyArray<string>) => `${lines.join("\n")}\n`
  const replace = (lines: ReadonlyArray<string>, from: string, to: ReadonlyArray<string>) => lines.flatMap((line) => (line === from ? to : [line]))

  it("accepts the well-formed examples the malformed ones are made from", () => {
    expect(expositionProblems(text(...HISTOGRAM, ...COUNTER))).toEqual([])
  })

  it.each([
    ["a value that is not a number", text(...replace(COUNTER, 'c_total{a="y"} 2', ['c_total{a="y"} two'])), /invalid value "two"/],
    ["a sample line without a value", text(...replace(COUNTER, 'c_total{a="y"} 2', ['c_total{a="y"}'])), /no space before the value/],
    ["an invalid metric name", text(...COUNTER, "# HELP 9lives x", "# TYPE 9lives gauge", "9lives 1"), /invalid metric name "9lives"/],
    ["an unterminated label value", text(...replace(COUNTER, 'c_total{a="y"} 2', ['c_total{a="y} 2'])), /unterminated value|expected , or }/],
    ["an escape the format does not know", text(...replace(COUNTER, 'c_total{a="y"} 2', ['c_total{a="\\t"} 2'])), /invalid escape/],
    ["one label twice in a sample", text(...replace(COUNTER, 'c_total{a="y"} 2', ['c_total{a="y",a="z"} 2'])), /label a appears twice/],
    ["a family without HELP", text(...COUNTER.slice(1)), /c_total: no HELP/],
    ["a family without TYPE", text(COUNTER[0] as string, ...COUNTER.slice(2)), /c_total: no TYPE/],
    ["a TYPE after the family's samples", text(COUNTER[0] as string, ...COUNTER.slice(2), COUNTER[1] as string), /TYPE of c_total after its samples/],
    ["a second TYPE", text(...COUNTER.slice(0, 2), "# TYPE c_total gauge", ...COUNTER.slice(2)), /second TYPE/],
    ["an unknown TYPE", text(...replace(COUNTER, "# TYPE c_total counter", ["# TYPE c_total meter"])), /unknown TYPE "meter"/],
    ["the same series twice", text(...COUNTER, 'c_total{a="x"} 3'), /appears twice/],
    ["a family split in two", text(...COUNTER.slice(0, 3), ...HISTOGRAM, COUNTER[3] as string), /continues after other families/],
    ["a counter without _total", text("# HELP c C.", "# TYPE c counter", "c 1"), /ends in "_total"/],
    ["a gauge named like a counter", text("# HELP g_total G.", "# TYPE g_total gauge", "g_total 1"), /only counters end in "_total"/],
    ["a camelCase name", text("# HELP queueDepth Q.", "# TYPE queueDepth gauge", "queueDepth 1"), /snake_case/],
    ["buckets that are not cumulative", text(...replace(HISTOGRAM, 'h_seconds_bucket{le="1"} 3', ['h_seconds_bucket{le="1"} 0'])), /not cumulative/],
    ["buckets out of order", text(...replace(HISTOGRAM, 'h_seconds_bucket{le="1"} 3', ['h_seconds_bucket{le="0.01"} 3'])), /ascending order/],
    ["buckets that do not end in +Inf", text(...HISTOGRAM.filter((line) => !line.includes("+Inf"))), /not le="\+Inf"/],
    ["a count that differs from the +Inf bucket", text(...replace(HISTOGRAM, "h_seconds_count 4", ["h_seconds_count 5"])), /differs from the \+Inf bucket/],
    ["a histogram without _sum", text(...HISTOGRAM.filter((line) => !line.includes("_sum"))), /no single _sum/],
    ["a summary quantile out of range", text("# HELP s S.", "# TYPE s summary", 's{quantile="2"} 1', "s_sum 1", "s_count 1"), /not between 0 and 1/],
    ["no newline at the end", text(...COUNTER).trimEnd(), /does not end with a newline/]
  ])("refuses %s", (_, exposition, problem) => {
    const problems = expositionProblems(exposition)
    expect(problems.some((p) => problem.test(p)), problems.join("\n")).toBe(true)
  })
})

describe("/metrics: cron slots", () => {
  let app: RunningApp
  const minutely = defineCron({ name: "test.minutely", schedule: "* * * * *", job: Tick, args: {} }) as CronDefinition
  const everySecond = defineCron({ name: "test.second", schedule: "* * * * * *", job: Tick, args: {} }) as CronDefinition
  beforeAll(async () => {
    // no catch-up: the minute slot before the start is missed, as if everything had been down through it
    app = await startApp({ databaseUrl: await cloneDatabase(), crons: [minutely, everySecond], env: { CRON_CATCHUP_WINDOW: "0 seconds" } })
  })
  afterAll(() => app.dispose())

  const overdue = async (cron: string) => valueOf(parseExposition(await (await app.request("/metrics")).text()), "switchboard_cron_overdue_seconds", { cron }) ?? -1

  it("says how long ago an enabled schedule's latest slot was missed, and 0 for one that ran or is disabled", async () => {
    const before = Date.now()
    const seconds = await overdue("test.minutely")
    const slot = Math.floor(before / 60_000) * 60_000
    if (before - slot > 2_000) {
      // the slot of this minute came before the app started and was not caught up
      expect(seconds).toBeGreaterThanOrEqual((before - slot) / 1000 - 1)
      expect(seconds).toBeLessThanOrEqual((Date.now() - slot) / 1000 + 1)
    }
    expect(await overdue("test.second")).toBeLessThan(2) // each second's slot is enqueued as it comes
    expect((await app.request("/admin/api/crons/test.minutely/disable", { method: "POST", admin: true })).status).toBe(200)
    expect(await overdue("test.minutely")).toBe(0)
  })
})
