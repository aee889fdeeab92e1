/**
 * `deno test` over the suites that need no Node-only API (docs/runtimes.md lists
 * them and why the rest stay on Node). The database is set up as Vitest's
 * globalSetup does it (tests/support/globalSetup.ts: DATABASE_URL or an embedded
 * server, a migrated template); tests/deno/ maps "vitest" and "@effect/vitest"
 * onto Deno.test.
 *
 *   npm run test:deno                 # every suite but the Node-only ones (nodeOnly below)
 *   npm run test:deno -- FILE...      # these files only
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import setup from "../tests/support/globalSetup.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const deno = path.join(root, "node_modules", "deno", "deno")

/**
 * The suites that stay on Node, and why (docs/runtimes.md says the same). Every
 * other file under tests/ runs under Deno.
 */
const nodeOnly = {
  "tests/browser": "drives Chromium through playwright-core; it has its own step (npm run test:browser)",
  "tests/src/main.test.ts": "runs `npm start`, which is Node by definition"
}

const excluded = Object.keys(nodeOnly)

const documented = fs.readFileSync(path.join(root, "docs", "runtimes.md"), "utf8")
const undocumented = excluded.filter((suite) => !documented.includes(`| \`${suite}\` |`))
if (undocumented.length > 0) {
  console.error(`docs/runtimes.md does not say why these stay on Node: ${undocumented.join(", ")}`)
  process.exit(1)
}

const files = process.argv.slice(2)
const selection =
  files.length > 0
    ? files
    : fs
        .readdirSync(path.join(root, "tests"), { recursive: true })
        .map((file) => path.posix.join("tests", String(file).split(path.sep).join("/")))
        .filter((file) => file.endsWith(".test.ts") && !excluded.some((suite) => file === suite || file.startsWith(`${suite}/`)))
        .sort()

/** Runs deno with `args` in the project root; resolves with its exit code. */
const denoRun = (args, env = process.env) =>
  new Promise((resolve, reject) => {
    const child = spawn(deno, args, { cwd: root, stdio: "inherit", env })
    child.on("error", reject)
    child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0)))
  })

// The suites are type-checked by tsc against Vitest's types; the shims by Deno here.
const checked = await denoRun(["check", "--config", "tests/deno/deno.json", "tests/deno/vitest.ts", "tests/deno/effect-vitest.ts"])
if (checked !== 0) process.exit(checked)

const provided = {}
const teardown = await setup({ provide: (key, value) => void (provided[key] = value) })
let code = 1
try {
  code = await denoRun(["test", "--config", "tests/deno/deno.json", "--no-check", "--allow-all", "--parallel", ...selection], {
    ...process.env,
    SWITCHBOARD_TEST_PROVIDED: JSON.stringify(provided)
  })
} finally {
  await teardown()
}
process.exit(code)
