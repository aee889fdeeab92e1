/** A fresh database per test file, cloned from the migrated template, and layers over it. */
import { Metrics } from "../../infra/observability/Metrics.ts"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { inject } from "vitest"
import { DatabaseUrl, sqlLayer } from "../../infra/db/Database.ts"
import { type EmbeddedServer, startEmbedded } from "../../infra/db/EmbeddedPostgres.ts"
import { JobStore } from "../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../infra/jobs/ProcessRegistry.ts"
import { withDatabase } from "./globalSetup.ts"

/** Creates a database on the test server, optionally from a template, and returns its URL. */
const createDatabase = async (prefix: string, template?: string): Promise<string> => {
  const adminUrl = inject("adminUrl")
  const name = `${prefix}_${randomBytes(6).toString("hex")}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}${template === undefined ? "" : ` TEMPLATE ${template}`}`)
  } finally {
    await admin.end()
  }
  return withDatabase(adminUrl, name)
}

/** A database cloned from the migrated template. */
export const cloneDatabase = (): Promise<string> => createDatabase("test", inject("templateDatabase"))

/** An empty database (no migrations). */
export const emptyDatabase = (): Promise<string> => createDatabase("empty")

/** SqlClient + PgClient + DatabaseUrl over `url`, on the application's own pool (statements prepared, as in production). */
export const databaseLayer = (url: string, maxConnections = 10) =>
  Layer.merge(sqlLayer(Redacted.make(url), maxConnections), Layer.succeed(DatabaseUrl, Redacted.make(url)))

/** A plain pg client for assertions that should not go through the code under test. */
export { query } from "./sql.ts"

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export const eventually = async <A>(check: () => Promise<A | undefined>, timeoutMs: number, what: string): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The job store and process registry over `url`, with the database layer they run on. */
export const storeLayer = (url: string, maxConnections = 4) =>
  Layer.mergeAll(JobStore.Default, ProcessRegistry.Default).pipe(Layer.provideMerge(Layer.merge(databaseLayer(url, maxConnections), Metrics.Default)))

/** A runtime over `url` with the job store, for setting up and inspecting tests. */
export const storeRuntime = (url: string) => ManagedRuntime.make(storeLayer(url))

/**
 * A PostgreSQL server of the test's own (not the shared one), which the test
 * may stop, start again on the same port (clients' URLs stay valid), or
 * suspend: SIGSTOP to the postmaster and each of its processes freezes every
 * backend, so connections stay open and nothing answers, and new connections
 * are accepted by the kernel but never greeted.
 */
export const dedicatedServer = async (database: string) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-db-"))
  await fs.chmod(root, 0o755) // the postgres user must reach it
  let server: EmbeddedServer = await startEmbedded({ root, database, log: () => {} })
  const port = Number(new URL(server.url).port)
  let suspended: ReadonlyArray<number> = []
  const postmaster = async () => Number((await fs.readFile(path.join(server.dataDir, "postmaster.pid"), "utf8")).split("\n")[0])
  /** The postmaster's children (backends and background processes; each runs in a session of its own, so a group signal misses them). */
  const children = async (parent: number): Promise<ReadonlyArray<number>> => {
    const pids = (await fs.readdir("/proc")).filter((name) => /^\d+$/.test(name))
    const stats = await Promise.all(pids.map((pid) => fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")))
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")"
    return stats.flatMap((stat) => (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent ? [Number(stat.split(" ")[0])] : []))
  }
  const resume = async () => {
    for (const pid of [...suspended].reverse()) process.kill(pid, "SIGCONT")
    suspended = []
  }
  /** The same server over TCP on loopback (the embedded URL names its Unix socket when the path fits). */
  const tcpUrl = (() => {
    const url = new URL(server.url)
    url.searchParams.delete("host")
    return url.toString()
  })()
  return {
    url: server.url,
    tcpUrl,
    /** Fast shutdown: clients are disconnected, the socket file goes, new connections are refused. */
    stop: () => server.release(),
    start: async () => {
      server = await startEmbedded({ root, database, log: () => {}, port })
    },
    suspend: async () => {
      const pid = await postmaster()
      process.kill(pid, "SIGSTOP") // first, so that it forks no new backend meanwhile
      suspended = [pid, ...(await children(pid))]
      for (const child of suspended.slice(1)) process.kill(child, "SIGSTOP")
    },
    resume,
    dispose: async () => {
      await resume()
      await server.release()
      await fs.rm(root, { recursive: true, force: true })
    }
  }
}

export type DedicatedServer = Awaited<ReturnType<typeof dedicatedServer>>
