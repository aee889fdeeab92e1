/**
 * What is running: the package's version (from the nearest package.json up
 * from this module, so the source tree and the compiled `dist/` both find
 * it), the source revision the image was built from (`SWITCHBOARD_REVISION`,
 * set by the image build; `unknown` otherwise) and the runtime with its
 * version. Exported as `switchboard_build_info` and written with each
 * process's heartbeat row, so dashboards and the console's workers page can
 * tell a rollout's old processes from its new ones.
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"

export interface BuildInfo {
  readonly version: string
  readonly revision: string
  /** `node/22.11.0`, `deno/2.1.4`. */
  readonly runtime: string
}

const packageVersion = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string }
      if (pkg.name === "switchboard" && typeof pkg.version === "string") return pkg.version
    } catch {
      // no package.json here: look further up
    }
    const parent = path.dirname(dir)
    if (parent === dir) return "unknown"
    dir = parent
  }
}

const runtime = (): string => {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno
  return deno === undefined ? `node/${process.versions.node}` : `deno/${deno}`
}

const revision = (): string => {
  const given = process.env["SWITCHBOARD_REVISION"]?.trim()
  return given === undefined || given === "" ? "unknown" : given.slice(0, 40)
}

export const BUILD: BuildInfo = { version: packageVersion(), revision: revision(), runtime: runtime() }
