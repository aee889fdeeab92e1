// The npm registry mirror on our build machines answers 404 for other platforms' native
// packages (@rollup/rollup-darwin-arm64, @deno/win32-x64, ...), so `npm install` leaves
// them out of package-lock.json and `npm ci` then refuses the lock as "out of sync".
// This adds a version-only, optional entry for each one; `npm ci` skips optional packages
// it cannot install, so the lock works on every platform. Run after `npm install`.
import { readFileSync, writeFileSync } from "node:fs"

const file = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(file, "utf8"))
const packages = lock.packages
let added = 0
for (const entry of Object.values(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`
    if (packages[key] === undefined) {
      packages[key] = { version, ...(entry.dev ? { dev: true } : {}), optional: true }
      added++
    }
  }
}
const keys = Object.keys(packages).sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
lock.packages = Object.fromEntries(keys.map((key) => [key, packages[key]]))
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`package-lock.json: added ${added} optional platform entries`)
