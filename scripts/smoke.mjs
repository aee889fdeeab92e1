#!/usr/bin/env node
/**
 * Starts the server the way an operator would and checks it end to end over
 * HTTP: /livez, /readyz, one job enqueued through the admin API and seen
 * completed (its body sent chunked), /metrics counting it, one callback taken
 * from request to completed call against the in-process Twilio simulator (code
 * read from its texts), then SIGTERM, exit code 0 and no runtime warning about
 * request.signal. The /openapi.json it serves must pass Redocly's lint with no
 * error (.redocly.yaml). With --promtool, the /metrics it then
 * serves (every family, with the job's and the callback's series) must pass
 * `promtool check metrics` (Debian package prometheus; .ci/run installs it).
 *
 *   node scripts/smoke.mjs deno    # src/main.ts under the npm deno binary
 *   node scripts/smoke.mjs dist    # the compiled build (npm run build), as the image runs it
 *   node scripts/smoke.mjs node    # src/main.ts under node + tsx, as npm start runs it
 *   node scripts/smoke.mjs node --promtool
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const commands = {
  deno: [path.join(root, "node_modules/deno/deno"), ["run", "--allow-all", "src/main.ts"]],
  dist: [process.execPath, ["--enable-source-maps", "dist/src/main.js"]],
  node: [process.execPath, ["--import", "tsx", "src/main.ts"]]
}
const args = process.argv.slice(2)
const runtime = args.find((arg) => !arg.startsWith("--")) ?? "deno"
const promtool = args.includes("--promtool")
const command = commands[runtime]
if (command === undefined || args.some((arg) => arg.startsWith("--") && arg !== "--promtool")) {
  console.error(`usage: node scripts/smoke.mjs ${Object.keys(commands).join("|")} [--promtool]`)
  process.exit(2)
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const port = await freePort()
const simulatorPort = await freePort()
const simulator = `http://127.0.0.1:${simulatorPort}`
const token = "smoke-admin-token-0123456789"
const base = `http://127.0.0.1:${port}`
const child = spawn(command[0], command[1], {
  cwd: root,
  env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", ADMIN_TOKEN: token, LOG_LEVEL: "info", SIMULATOR_PORT: String(simulatorPort) },
  stdio: ["ignore", "pipe", "pipe"]
})
let output = ""
child.stdout.on("data", (chunk) => (output += chunk))
child.stderr.on("data", (chunk) => (output += chunk))
let ended = false
const exited = new Promise((resolve) => child.once("exit", (code, signal) => {
  ended = true
  resolve({ code, signal })
}))

const fail = (why) => {
  console.error(`smoke (${runtime}) FAILED: ${why}\n--- server output ---\n${output}`)
  child.kill("SIGKILL")
  process.exit(1)
}
const until = async (what, timeoutMs, check) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const result = await check().catch(() => undefined)
    if (result !== undefined) return result
    if (ended) fail(`the server exited while waiting for ${what}`)
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
const get = (p, headers = {}) => fetch(base + p, { headers })
const admin = { authorization: `Bearer ${token}` }
const started = Date.now()

await until("/livez 200", 90_000, async () => ((await get("/livez")).status === 200 ? true : undefined))
await until("/readyz 200", 30_000, async () => ((await get("/readyz")).status === 200 ? true : undefined))
console.log(`smoke (${runtime}): live and ready after ${Date.now() - started} ms`)

// the runtime the server says it runs on (switchboard_build_info) is the one asked for
const served = /switchboard_build_info\{[^}]*runtime="([^"]+)"/.exec(await (await get("/metrics")).text())?.[1]
const expected = runtime === "deno" ? "deno/" : `node/${process.versions.node}`
if (served === undefined || !(runtime === "deno" ? served.startsWith(expected) : served === expected)) {
  fail(`switchboard_build_info says runtime ${served ?? "(missing)"}, expected ${expected}${runtime === "deno" ? "…" : ""}`)
}
console.log(`smoke (${runtime}): the server runs on ${served}`)

// a chunked body (no content-length), which the body limit copies: Deno warns when that reads its request.signal
const chunked = new Blob([JSON.stringify({ kind: "diagnostics.ping", args: { message: `smoke test under ${runtime}` } })]).stream()
const created = await fetch(`${base}/admin/api/jobs`, {
  method: "POST",
  headers: { ...admin, "content-type": "application/json" },
  body: chunked,
  duplex: "half"
})
if (created.status !== 201) fail(`enqueue answered ${created.status}: ${await created.text()}`)
const { id } = await created.json()
const job = await until(`job ${id} to complete`, 30_000, async () => {
  const body = await (await get(`/admin/api/jobs/${id}`, admin)).json()
  return body.state === "completed" ? body : undefined
})
console.log(`smoke (${runtime}): job ${job.id} ${job.kind} completed on attempt ${job.attempt}`)

const metrics = await (await get("/metrics")).text()
if (!/^switchboard_jobs_finished_total\{queue="default",kind="diagnostics.ping",outcome="completed"\} [1-9]/m.test(metrics)) {
  fail("/metrics does not count the completed job")
}

// a callback, end to end: business, request, code by SMS, verification, call answered and bridged
const post = async (p, body, headers = {}) => {
  const response = await fetch(base + p, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() }
}
// fresh numbers each run: the data directory (and its rate limits per number) outlives a run
const number = () => `+1415555${String(1000 + Math.floor(Math.random() * 9000))}`
const business = await post("/admin/api/businesses", { name: "Smoke", phone: number(), timezone: "UTC" }, admin)
if (business.status !== 201) fail(`business: ${business.status} ${JSON.stringify(business.body)}`)
// the business's publishable key, as a web page would send it
const key = await post(`/admin/api/businesses/${business.body.id}/keys`, { kind: "publishable" }, admin)
if (key.status !== 201) fail(`key: ${key.status} ${JSON.stringify(key.body)}`)
const visitor = number()
const request = await post(`/v1/callbacks?key=${key.body.key}`, { phone: visitor })
if (request.status !== 202) fail(`callback: ${request.status} ${JSON.stringify(request.body)}`)
const code = await until("the verification text", 30_000, async () => {
  const texts = await (await fetch(`${simulator}/sim/messages?to=${encodeURIComponent(visitor)}`)).json()
  return /\d{6}/.exec(texts[0]?.body ?? "")?.[0]
})
const verified = await post(`/v1/callbacks/${request.body.id}/verification`, { code })
if (verified.status !== 200) fail(`verification: ${verified.status} ${JSON.stringify(verified.body)}`)
const done = await until(`callback ${request.body.id} to complete`, 30_000, async () => {
  const body = await (await get(`/v1/callbacks/${request.body.id}`)).json()
  return body.status === "completed" ? body : undefined
})
console.log(`smoke (${runtime}): callback ${done.id} completed after ${done.attempts.length} call (${done.attempts[0]?.status})`)

{
  const served = await get("/openapi.json")
  if (served.status !== 200) fail(`/openapi.json: ${served.status}`)
  const dir = mkdtempSync(path.join(tmpdir(), "switchboard-smoke-openapi-"))
  try {
    const file = path.join(dir, "openapi.json")
    writeFileSync(file, await served.text())
    const lint = spawnSync(path.join(root, "node_modules", ".bin", "redocly"), ["lint", file, "--config", path.join(root, ".redocly.yaml")], {
      encoding: "utf8",
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" }
    })
    if (lint.status !== 0) fail(`redocly lint of the served /openapi.json exited ${lint.status}:\n${lint.stdout}${lint.stderr}`)
    console.log(`smoke (${runtime}): the served /openapi.json passes redocly lint`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (promtool) {
  const exposition = await (await get("/metrics")).text()
  const check = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" })
  if (check.error !== undefined) fail(`promtool did not run (Debian package prometheus): ${check.error.message}`)
  if (check.status !== 0 || `${check.stdout}${check.stderr}`.trim() !== "") {
    fail(`promtool check metrics exited ${check.status}:\n${check.stdout}${check.stderr}`)
  }
  const families = exposition.split("\n").filter((line) => line.startsWith("# TYPE ")).length
  console.log(`smoke (${runtime}): promtool check metrics passes a live /metrics (${families} families)`)
}

child.kill("SIGTERM")
const result = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("timeout"), 30_000))])
if (result === "timeout") fail("no exit within 30 s of SIGTERM")
if (result.code !== 0) fail(`exit code ${result.code} (signal ${result.signal}) after SIGTERM`)
if (/request\.signal/.test(output)) fail("the runtime warned about request.signal")
const server = /HTTP server listening on \S+ \(([^)]+)\)/.exec(output)?.[1]
console.log(`smoke (${runtime}): served by ${server ?? "an unknown server"}`)
console.log(`smoke (${runtime}): SIGTERM -> exit 0; passed in ${Date.now() - started} ms`)
process.exit(0)
