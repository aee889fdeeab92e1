/**
 * `npm run lint:openapi`: lints the OpenAPI document the server serves at
 * /openapi.json with Redocly CLI (its recommended rules, .redocly.yaml). The
 * document is built in-process from the route table, as the server builds it
 * at start-up (server URL: PUBLIC_BASE_URL, or "/"): no server, no database.
 * Exits with Redocly's status: non-zero when the document has an error.
 *
 * Runs under `node --import tsx` (it imports the TypeScript sources).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const { makeDocument } = await import(pathToFileURL(path.join(root, "src/http/OpenApi.ts")).href)
const { allRoutes } = await import(pathToFileURL(path.join(root, "src/http/contract/index.ts")).href)

const document = makeDocument(allRoutes, { serverUrl: process.env.PUBLIC_BASE_URL?.replace(/\/+$/, "") || "/" })
const dir = mkdtempSync(path.join(tmpdir(), "switchboard-openapi-"))
const file = path.join(dir, "openapi.json")
try {
  writeFileSync(file, JSON.stringify(document, null, 2))
  const redocly = path.join(root, "node_modules", ".bin", "redocly")
  const result = spawnSync(redocly, ["lint", file, "--config", path.join(root, ".redocly.yaml"), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" }
  })
  if (result.error !== undefined) throw result.error
  process.exitCode = result.status ?? 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
