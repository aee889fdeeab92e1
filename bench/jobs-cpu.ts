/**
 * `npm run bench:jobs:cpu`: where a drain's time goes. For each system, drains
 * BENCH_JOBS (60,000) no-op jobs with concurrency 10 and reports the CPU spent
 * per job in this Node process and in all PostgreSQL processes (read from
 * /proc, so Linux only; 10 ms resolution). Three rounds, interleaved.
 */
import { readdirSync, readFileSync } from "node:fs"
import { freshDatabase, runBench, waitFor } from "./harness.ts"
import { loadPeerSystems } from "./peerSystems.ts"
import { switchboard } from "./switchboard.ts"
import { type BenchSystem, now } from "./system.ts"

const JOBS = Number(process.env.BENCH_JOBS ?? 60_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

/** CPU ms used so far by every process named postgres. */
const postgresCpuMs = (): number => {
  let ticks = 0
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      if (!stat.includes("(postgres)")) continue
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(fields[11]) + Number(fields[12]) // utime + stime
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks * 10
}

const systems: ReadonlyArray<() => BenchSystem> = [switchboard, ...(await loadPeerSystems())]

runBench(async (adminUrl) => {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const make of systems) {
      const system = make()
      await system.setup(await freshDatabase(adminUrl, `cpu_${system.name}`))
      await system.enqueueBulk(JOBS)
      let ran = 0
      const pg0 = postgresCpuMs()
      const cpu0 = process.cpuUsage()
      const start = now()
      await system.startWorker(10, () => {
        ran++
      })
      await waitFor(() => ran >= JOBS, 300_000, `${system.name} to drain`)
      const wall = now() - start
      const node = process.cpuUsage(cpu0)
      const postgres = postgresCpuMs() - pg0
      console.log(
        `round ${round} ${system.name.padEnd(16)} ${String(Math.round(JOBS / (wall / 1000))).padStart(6)} jobs/s; CPU per job: node ${((node.user + node.system) / JOBS).toFixed(1)} µs, postgres ${((postgres * 1000) / JOBS).toFixed(1)} µs`
      )
      await system.stopWorker()
      await system.teardown()
    }
  }
})
