/** Worker processes for tests: spawned with tsx, output captured, killed for sure at the end. */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

export interface WorkerProcess {
  readonly pid: number
  readonly output: () => string
  /** `http://127.0.0.1:<port>` once the process's HTTP server listens (it binds an ephemeral port). */
  readonly baseUrl: () => Promise<string>
  /**
   * `baseUrl` once `/readyz` answers 200: its migrations are in (until then the API answers 503, see
   * Middleware.ts `untilMigrated`), so requests sent now are served.
   */
  readonly ready: () => Promise<string>
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
  SHUTDOWN_GRACE: "2s",
  // every test app runs its own Twilio simulator, on a free port
  SIMULATOR_PORT: "0"
}

/** A process of the real application (src/main.ts: the application's own job kinds and crons). */
export const spawnApp = (databaseUrl: string, env: Record<string, string> = {}): WorkerProcess => spawnProcess("src/main.ts", databaseUrl, env)

/** A process of the application with the test job kinds (tests/support/worker.ts). */
export const spawnWorker = (databaseUrl: string, env: Record<string, string> = {}): WorkerProcess => spawnProcess("tests/support/worker.ts", databaseUrl, env)

const spawnProcess = (script: string, databaseUrl: string, env: Record<string, string>): WorkerProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, script)], {
    cwd: root,
    env: { ...process.env, ROLE: "worker", PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "debug", ...fastEngine, ...env, DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"]
  })
  spawned.add(child)
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  if (child.pid === undefined) throw new Error("could not spawn a worker")
  const baseUrl = async () => {
    const deadline = Date.now() + 30_000
    for (;;) {
      const match = /HTTP server listening on http:\/\/[^:]+:(\d+)/.exec(output)
      if (match !== null) return `http://127.0.0.1:${match[1]}`
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the process did not start its HTTP server:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  // process.kill, not child.kill: under Deno, ChildProcess.kill delivers only the first signal (SIGCONT after
  // SIGSTOP never arrives) and then reports that signal as the exit, whatever the child's exit code
  const pid = child.pid
  const ready = async () => {
    const base = await baseUrl()
    const deadline = Date.now() + 30_000
    while ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) !== 200) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the process did not become ready:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return base
  }
  return { pid, output: () => output, baseUrl, ready, exited, signal: (signal) => process.kill(pid, signal) }
}
