/**
 * `npm start` on a machine with nothing configured: the embedded PostgreSQL
 * starts (data kept across restarts), migrations apply, the pools run jobs,
 * and Ctrl-C (SIGINT) exits 0 within 5 s with no job left held.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../support/database.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

interface Run {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue
    try {
      process.kill(-child.pid, "SIGKILL") // its process group, when it has one (npm start)
    } catch {
      child.kill("SIGKILL")
    }
  }
})

describe("npm start with nothing configured", () => {
  let dataDir: string
  const env = () => {
    const { DATABASE_URL: _, ...rest } = process.env
    return { ...rest, SWITCHBOARD_DATA_DIR: dataDir, QUEUES: "default:2" }
  }
  const run = (script: string, args: ReadonlyArray<string> = [], extraEnv: Record<string, string> = {}): Run =>
    track(
      spawn(process.execPath, ["--import", "tsx", path.join(root, script), ...args], {
        cwd: root,
        env: { ...env(), ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"]
      })
    )
  /** `npm start` in a process group of its own, as a terminal runs it (Ctrl-C signals the whole group). */
  const npmStart = (): Run =>
    track(spawn("npm", ["start"], { cwd: root, env: env(), stdio: ["ignore", "pipe", "pipe"], detached: true }))
  const track = (child: ChildProcess): Run => {
    children.push(child)
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    return { child, output: () => output, exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))) }
  }
  const waitFor = (r: Run, text: string) => eventually(async () => (r.output().includes(text) ? true : undefined), 60_000, `"${text}" in the output`)

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-start-"))
    await fs.chmod(dataDir, 0o755)
  })
  afterAll(() => fs.rm(dataDir, { recursive: true, force: true }))

  it("starts the embedded database, runs jobs, stops on Ctrl-C and keeps its data", async () => {
    const first = npmStart()
    await waitFor(first, "worker pools: default")
    expect(first.output()).toContain("initialising the embedded PostgreSQL")
    expect(first.output()).toContain("applied migrations: 0001_jobs")

    const cli = run("src/cli.ts", ["enqueue", "diagnostics.ping", '{"message":"hello from the test"}'])
    expect(await cli.exited).toBe(0)
    await waitFor(first, "ping: hello from the test")

    const stoppedAt = Date.now()
    process.kill(-(first.child.pid as number), "SIGINT") // Ctrl-C
    expect(await first.exited).toBe(0)
    expect(Date.now() - stoppedAt).toBeLessThan(5_000)
    await expect(fs.stat(path.join(dataDir, "postgres", "postmaster.pid"))).rejects.toThrow() // the server stopped with it

    const second = run("src/main.ts")
    await waitFor(second, "worker pools: default")
    expect(second.output()).not.toContain("initialising")
    const jobs = run("src/cli.ts", ["jobs"])
    expect(await jobs.exited).toBe(0)
    expect(jobs.output()).toMatch(/diagnostics\.ping\tcompleted\t1\/3/)
    expect(jobs.output()).not.toMatch(/\trunning\t/)
    second.child.kill("SIGINT")
    expect(await second.exited).toBe(0)
  })

  it("rejects invalid configuration with a message naming the variable", async () => {
    const invalid = run("src/main.ts", [], { QUEUES: "default:lots", SIMULATOR_PORT: "0" })
    expect(await invalid.exited).not.toBe(0)
    expect(invalid.output()).toContain("QUEUES")
    expect(invalid.output()).toContain("default:lots")
  })

  it("refuses an invalid setting with one log line naming the variable and its rule", async () => {
    /** The error-level lines of a run, parsed. */
    const errors = (r: Run) =>
      r
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{") && line.includes('"level":"error"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
    // read after the database has started, under the application's own logger
    const shortToken = run("src/main.ts", [], { ADMIN_TOKEN: "tooShort-7", SIMULATOR_PORT: "0" })
    expect(await shortToken.exited).toBe(1)
    expect(errors(shortToken).map((line) => line.message)).toEqual(["invalid configuration: ADMIN_TOKEN: must be at least 16 characters of visible ASCII"])
    expect(shortToken.output()).not.toContain("tooShort-7") // the rule, never the secret
    // read before anything else has started
    const pool = run("src/main.ts", [], { DATABASE_POOL_SIZE: "1", SIMULATOR_PORT: "0" })
    expect(await pool.exited).toBe(1)
    expect(errors(pool).map((line) => line.message)).toEqual(["invalid configuration: DATABASE_POOL_SIZE: must be between 2 and 500"])
  })

  it("refuses NODE_ENV=production without Twilio credentials and PUBLIC_BASE_URL: the simulator never runs in production", async () => {
    const base = { NODE_ENV: "production", ADMIN_TOKEN: "production-admin-token-0123", CODE_SECRET: "production-code-secret-0123456789abcdef", SIMULATOR_PORT: "0" }
    const noTwilio = run("src/main.ts", [], base)
    expect(await noTwilio.exited).not.toBe(0)
    expect(noTwilio.output()).toContain("TWILIO_ACCOUNT_SID")
    expect(noTwilio.output()).not.toContain("Twilio simulator at")
    const noUrl = run("src/main.ts", [], { ...base, TWILIO_ACCOUNT_SID: "AC" + "1".repeat(32), TWILIO_AUTH_TOKEN: "secret", TWILIO_FROM: "+15005550006" })
    expect(await noUrl.exited).not.toBe(0)
    expect(noUrl.output()).toContain("PUBLIC_BASE_URL")
    // and without the codes' secret, which outside production is generated and kept in the database
    const { CODE_SECRET: _, ...withoutSecret } = base
    const noSecret = run("src/main.ts", [], { ...withoutSecret, TWILIO_ACCOUNT_SID: "AC" + "1".repeat(32), TWILIO_AUTH_TOKEN: "secret", TWILIO_FROM: "+15005550006", PUBLIC_BASE_URL: "https://switchboard.example.com" })
    expect(await noSecret.exited).not.toBe(0)
    expect(noSecret.output()).toContain("invalid configuration: CODE_SECRET: must be set when NODE_ENV=production")
  })
})
