/**
 * `switchboard simulator` (src/cli.ts) as a process: it prints the URL it
 * listens on, answers the SDK with the default credentials, exits 0 after a
 * SIGTERM, and refuses to start with NODE_ENV=production.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_FROM } from "../../../infra/twilio/Simulator.ts"
import { simulatedTwilio } from "../../../infra/twilio/SimulatorClient.ts"
import { eventually } from "../../support/database.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

const spawned = new Set<ChildProcess>()
afterEach(() => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  spawned.clear()
})

/** Runs `switchboard simulator` with the simulator's own defaults (no TWILIO_* from this environment). */
const simulatorProcess = (env: Record<string, string>) => {
  const { TWILIO_ACCOUNT_SID: _sid, TWILIO_AUTH_TOKEN: _token, ...inherited } = process.env
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/cli.ts"), "simulator"], {
    cwd: root,
    env: { ...inherited, NODE_ENV: "development", SIMULATOR_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  spawned.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, exited, stdout: () => stdout, stderr: () => stderr }
}

describe("switchboard simulator", () => {
  it("prints its URL, answers the SDK with the default credentials, and exits 0 on SIGTERM", async () => {
    const sim = simulatorProcess({})
    const url = await eventually(async () => {
      if (sim.child.exitCode !== null) throw new Error(`the simulator exited early:\n${sim.stdout()}${sim.stderr()}`)
      return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(sim.stdout())?.[1]
    }, 30_000, "the simulator's URL on stdout")
    expect(sim.stdout().trim().split("\n")).toHaveLength(1)
    const stats = await fetch(`${url}/sim/stats`)
    expect(stats.status).toBe(200)
    expect(await stats.json()).toMatchObject({ calls: 0, requests: { calls: 0, messages: 0, callReads: 0 } })
    const twilio = simulatedTwilio(url, SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN)
    const created = await twilio.calls.create({ to: "+4930123456", from: SIMULATOR_FROM, url: "http://127.0.0.1:9/voice" })
    expect((await twilio.calls.list({ to: "+4930123456" })).map((call) => call.sid)).toEqual([created.sid])
    process.kill(sim.child.pid as number, "SIGTERM") // not child.kill, which Deno reports as the exit (tests/support/processes.ts)
    expect(await sim.exited).toBe(0)
  })

  it("refuses to start with NODE_ENV=production, saying why", async () => {
    const sim = simulatorProcess({ NODE_ENV: "production" })
    expect(await sim.exited).toBe(1)
    expect(sim.stderr()).toMatch(/does not run with NODE_ENV=production/)
    expect(sim.stdout()).toBe("")
  })
})
