/** What the benchmark scripts share: a throwaway embedded server, fresh databases, a clean exit. */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { startEmbedded } from "../infra/db/EmbeddedPostgres.ts"

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A numeric setting from the environment (BENCH_*), or its default. */
export const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

export const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** The nearest-rank `p`th percentile. */
export const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

/** Polls `done` every millisecond; fails after `timeoutMs`. */
export const waitFor = async (done: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(1)
  }
}

let databases = 0

/** Creates a new database on the server and returns its URL. */
export const freshDatabase = async (adminUrl: string, prefix: string): Promise<string> => {
  const name = `${prefix.replace(/[^a-z]/g, "_")}_${++databases}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** Runs `body` against a fresh embedded PostgreSQL, removed afterwards; exits the process with its outcome. */
export const runBench = (body: (adminUrl: string) => Promise<void>): void => {
  const main = async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-bench-"))
    await fs.chmod(root, 0o755) // the postgres user must reach it
    const server = await startEmbedded({ root, database: "bench", log: () => {} })
    try {
      await body(server.url)
    } finally {
      await server.release()
      await fs.rm(root, { recursive: true, force: true })
    }
  }
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
