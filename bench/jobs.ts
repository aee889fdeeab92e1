/**
 * `npm run bench:jobs`: Switchboard's job engine against graphile-worker and
 * pg-boss on one embedded PostgreSQL, in one run.
 *
 * (a) throughput: enqueue BENCH_JOBS (20,000) no-op jobs in bulk, then time a
 *     worker with BENCH_CONCURRENCY (10) draining them, from its start to the
 *     last job; BENCH_ROUNDS (3) rounds after an uncounted warm-up drain of
 *     each system, systems interleaved in rotating order, each round on a
 *     fresh database; the median is reported.
 * (b) latency: enqueue -> handler start, one job at a time at BENCH_RATE
 *     (200) jobs/s for BENCH_SECONDS (20) s against a running worker; p50/p99.
 * (c) pgbench's built-in simple-update TPS on the same server, as the
 *     physical reference (null when no `pgbench` binary is on PATH).
 *
 * Prints a markdown table and writes bench/results/jobs.json. Smaller runs:
 * BENCH_JOBS, BENCH_ROUNDS, BENCH_SECONDS, BENCH_SYSTEMS=switchboard,...
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { env, freshDatabase, median, percentile, runBench, sleep, waitFor } from "./harness.ts"
import { loadPeerSystems } from "./peerSystems.ts"
import { switchboard } from "./switchboard.ts"
import { type BenchSystem, now } from "./system.ts"

const JOBS = env("BENCH_JOBS", 20_000)
const CONCURRENCY = env("BENCH_CONCURRENCY", 10)
const ROUNDS = env("BENCH_ROUNDS", 3)
const RATE = env("BENCH_RATE", 200)
const SECONDS = env("BENCH_SECONDS", 20)
const PGBENCH_SECONDS = env("BENCH_PGBENCH_SECONDS", 10)
const WARMUP_JOBS = env("BENCH_WARMUP_JOBS", 5_000)

/** BENCH_SYSTEMS=switchboard,pg-boss runs a subset (by name); the peers are loaded only when one is wanted. */
const wanted = process.env.BENCH_SYSTEMS?.split(",")
const all: ReadonlyArray<() => BenchSystem> = [
  switchboard,
  ...(wanted === undefined || wanted.some((name) => name !== "switchboard") ? await loadPeerSystems() : [])
]
const factories = wanted === undefined ? all : all.filter((f) => wanted.includes(f().name))

/** (a) One drain: bulk-enqueue JOBS, then time the worker until all have run. */
const drain = async (system: BenchSystem, url: string, jobs = JOBS) => {
  await system.setup(url)
  const enqueueStart = now()
  await system.enqueueBulk(jobs)
  const enqueueMs = now() - enqueueStart
  let ran = 0
  const start = now()
  await system.startWorker(CONCURRENCY, () => {
    ran++
  })
  await waitFor(() => ran >= jobs, 300_000, `${system.name} to drain`)
  const drainMs = now() - start
  await system.stopWorker()
  await system.teardown()
  return { throughput: jobs / (drainMs / 1000), enqueuePerSecond: jobs / (enqueueMs / 1000) }
}

/** (b) Latency at a steady rate: each job carries the time it was sent; the handler measures the gap. */
const latency = async (system: BenchSystem, url: string) => {
  await system.setup(url)
  const samples: Array<number> = []
  await system.startWorker(CONCURRENCY, (sentAt) => {
    if (sentAt !== undefined) samples.push(now() - sentAt)
  })
  await sleep(1_000) // let listeners settle
  const total = RATE * SECONDS
  const interval = 1000 / RATE
  const begin = now()
  const sends: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const due = begin + i * interval
    const wait = due - now()
    if (wait > 0) await sleep(wait)
    sends.push(system.enqueueOne(now()))
  }
  await Promise.all(sends)
  await waitFor(() => samples.length >= total, 60_000, `${system.name} to run the latency jobs`)
  await system.stopWorker()
  await system.teardown()
  return { p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), samples: samples.length }
}

/** (c) pgbench simple-update TPS, or null without a pgbench binary. */
const pgbench = async (adminUrl: string): Promise<number | null> => {
  try {
    execFileSync("pgbench", ["--version"], { stdio: "ignore" })
  } catch {
    return null
  }
  const url = await freshDatabase(adminUrl, "pgbench")
  execFileSync("pgbench", ["-i", "-q", "-s", "10", url], { stdio: "ignore" })
  const out = execFileSync("pgbench", ["-n", "-b", "simple-update", "-c", "4", "-j", "2", "-T", String(PGBENCH_SECONDS), url], { encoding: "utf8" })
  const match = /tps = ([\d.]+)/.exec(out)
  return match ? Number(match[1]) : null
}

const round1 = (n: number) => Math.round(n * 10) / 10

runBench(async (adminUrl) => {
  console.log(`${os.cpus().length} cores, node ${process.version}; ${JOBS} jobs x ${ROUNDS} rounds, concurrency ${CONCURRENCY}; latency ${RATE}/s for ${SECONDS}s`)
  const names = factories.map((f) => f().name)
  const drains = new Map(names.map((n) => [n, [] as Array<{ throughput: number; enqueuePerSecond: number }>]))
  // Warm-up, not counted: every system's code paths get compiled before anything is timed.
  for (const make of factories) {
    const system = make()
    await drain(system, await freshDatabase(adminUrl, `${system.name}_warmup`), WARMUP_JOBS)
  }
  for (let round = 1; round <= ROUNDS; round++) {
    // rotate who goes first, so no system always runs right after another's cleanup
    const order = factories.map((_, i) => factories[(i + round - 1) % factories.length] as () => BenchSystem)
    for (const make of order) {
      const system = make()
      const result = await drain(system, await freshDatabase(adminUrl, system.name))
      drains.get(system.name)?.push(result)
      console.log(`round ${round} ${system.name}: ${Math.round(result.throughput)} jobs/s drained, ${Math.round(result.enqueuePerSecond)} jobs/s enqueued`)
    }
  }
  const latencies = new Map<string, { p50Ms: number; p99Ms: number; samples: number }>()
  for (const make of factories) {
    const system = make()
    const result = await latency(system, await freshDatabase(adminUrl, `${system.name}_latency`))
    latencies.set(system.name, result)
    console.log(`latency ${system.name}: p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms (${result.samples} jobs)`)
  }
  const pgbenchTps = await pgbench(adminUrl)

  const systems = Object.fromEntries(
    names.map((name) => {
      const runs = drains.get(name) ?? []
      const lat = latencies.get(name)
      return [
        name,
        {
          throughput: Math.round(median(runs.map((r) => r.throughput))),
          p50Ms: round1(lat?.p50Ms ?? Number.NaN),
          p99Ms: round1(lat?.p99Ms ?? Number.NaN),
          enqueuePerSecond: Math.round(median(runs.map((r) => r.enqueuePerSecond))),
          rounds: runs.map((r) => Math.round(r.throughput))
        }
      ]
    })
  )
  const ours = systems.switchboard // absent when BENCH_SYSTEMS leaves it out
  const rows = Object.entries(systems).map(([name, s]) => {
    const ratio =
      name === "switchboard" || ours === undefined ? "" : `${(ours.throughput / s.throughput).toFixed(2)}x / ${(s.p50Ms / ours.p50Ms).toFixed(2)}x`
    return `| ${name} | ${s.throughput} | ${s.enqueuePerSecond} | ${s.p50Ms} | ${s.p99Ms} | ${ratio} |`
  })
  console.log(
    [
      "",
      "| system | drain jobs/s (median) | bulk enqueue jobs/s | p50 ms | p99 ms | switchboard vs peer (throughput / p50) |",
      "|---|---|---|---|---|---|",
      ...rows,
      "",
      `pgbench simple-update on the same server: ${pgbenchTps === null ? "n/a (no pgbench binary)" : `${Math.round(pgbenchTps)} TPS`}`
    ].join("\n")
  )
  const results = {
    generatedAt: new Date().toISOString(),
    machine: { cores: os.cpus().length, node: process.version },
    parameters: { jobs: JOBS, rounds: ROUNDS, concurrency: CONCURRENCY, rate: RATE, seconds: SECONDS },
    systems,
    pgbenchTps: pgbenchTps === null ? null : Math.round(pgbenchTps)
  }
  const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "results", "jobs.json")
  await fs.mkdir(path.dirname(out), { recursive: true })
  await fs.writeFile(out, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
})
