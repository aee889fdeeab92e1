/**
 * The embedded PostgreSQL says where its data lives in its start-up line: when
 * it starts the server, when it joins one another process started, and (as
 * root) when the data is not in the configured folder because the postgres
 * user cannot reach it.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { startEmbedded } from "../../../infra/db/EmbeddedPostgres.ts"

/** What the start-up line says in its parentheses: where the data is. */
const whereOf = (lines: ReadonlyArray<string>): string | undefined =>
  lines.map((line) => /^embedded PostgreSQL listening on 127\.0\.0\.1:\d+ \((.*)\)$/.exec(line)?.[1]).find((where) => where !== undefined)

const tempFolder = async (mode: number) => {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-embedded-"))
  await fs.chmod(folder, mode)
  return folder
}

describe("the embedded PostgreSQL's start-up line", () => {
  it("names the data folder when it starts the server and when it joins the one running", async () => {
    const root = await tempFolder(0o755)
    const dataDir = path.join(root, "postgres")
    const started: Array<string> = []
    const first = await startEmbedded({ root, database: "first", log: (line) => started.push(line) })
    try {
      expect(first.dataDir).toBe(dataDir)
      expect(whereOf(started), started.join("\n")).toBe(`data in ${dataDir}`)
      const port = /listening on 127\.0\.0\.1:(\d+)/.exec(started.join("\n"))?.[1]
      const joined: Array<string> = []
      const second = await startEmbedded({ root, database: "second", log: (line) => joined.push(line) })
      expect(joined).toEqual([`using the embedded PostgreSQL already running on 127.0.0.1:${port} (data in ${dataDir})`])
      await second.release() // joined, not started: the server keeps running for the first
    } finally {
      await first.release()
      await fs.rm(root, { recursive: true, force: true })
    }
  })

  it("says so when the data is not in the configured folder, which the postgres user cannot reach (as root)", async () => {
    const parent = await tempFolder(0o700) // only its owner may enter
    const configured = path.join(parent, "data")
    const lines: Array<string> = []
    const server = await startEmbedded({ root: configured, database: "moved", log: (line) => lines.push(line) })
    try {
      if (process.getuid?.() === 0) {
        // Postgres runs as the postgres user, which cannot enter `parent`: the data moves to the temp folder
        expect(path.dirname(path.dirname(server.dataDir))).toBe(os.tmpdir())
        expect(whereOf(lines), lines.join("\n")).toBe(`data in ${server.dataDir}, not in ${configured}: the postgres user cannot reach that`)
      } else {
        // Postgres runs as this user, who owns `parent`: the data stays where it was asked to be
        expect(server.dataDir).toBe(path.join(configured, "postgres"))
        expect(whereOf(lines), lines.join("\n")).toBe(`data in ${server.dataDir}`)
      }
    } finally {
      await server.release()
      if (!server.dataDir.startsWith(parent)) await fs.rm(path.dirname(server.dataDir), { recursive: true, force: true })
      await fs.rm(parent, { recursive: true, force: true })
    }
  })
})
