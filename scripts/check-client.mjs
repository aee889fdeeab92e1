/**
 * `npm run check:client`: fails (exit 1) when the committed client
 * (clients/switchboard/openapi.json and schema.d.ts) is not what
 * `npm run generate:client` makes from the route table now, i.e. when a
 * contract change was committed without its regenerated client. Generates
 * into a temporary folder and compares byte for byte.
 *
 * Runs under `node --import tsx` (the route table is TypeScript).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { clientDir, generateClient, generatedFiles } from "./generate-client.mjs"

const dir = await mkdtemp(path.join(tmpdir(), "switchboard-client-"))
try {
  const fresh = await generateClient(dir)
  const stale = []
  for (const name of generatedFiles) {
    const committed = await readFile(path.join(clientDir, name), "utf8").catch(() => undefined)
    const expected = fresh[name]
    if (committed === expected) continue
    if (committed === undefined) {
      stale.push(`${name}: missing`)
      continue
    }
    const have = committed.split("\n")
    const want = expected.split("\n")
    const line = want.findIndex((text, i) => have[i] !== text)
    const at = line < 0 ? want.length : line
    stale.push(`${name}: differs from line ${at + 1}\n    committed: ${have[at] ?? "(end of file)"}\n    generated: ${want[at] ?? "(end of file)"}`)
  }
  if (stale.length > 0) {
    console.error(`The committed client is out of date with the route table:\n  ${stale.join("\n  ")}\nrun npm run generate:client and commit clients/switchboard/`)
    process.exitCode = 1
  } else {
    console.log(`clients/switchboard is up to date (${generatedFiles.join(", ")})`)
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
