/** Worker processes for tests: spawned with tsx, output captured, killed for sure at the end. */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

export interface WorkerProcess {
  readonly pid: number
  readonly output: () => string
  readonly exited: Promise<number | null>
  readonly signal: (signal: NodeJS.Signals) => void
}

const spawned = new Set<ChildProcess>()
afterEach(() => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  spawned.clear()
})

/** Fast timings so crash and rescue tests finish in seconds. */
export const fastEngine = {
  HEARTBEAT_INTERVAL: "300ms",
  PROCESS_STALE_AFTER: "2s",
  JOB_POLL_INTERVAL: "250ms",
  SHUTDOWN_GRACE: "2s"
}

export const spawnWorker = (databaseUrl: string, env: Record<string, string> = {}): WorkerProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "tests/support/worker.ts")], {
    cwd: root,
    env: { ...process.env, ...fastEngine, ...env, DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"]
  })
  spawned.add(child)
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  if (child.pid === undefined) throw new Error("could not spawn a worker")
  return { pid: child.pid, output: () => output, exited, signal: (signal) => child.kill(signal) }
}
