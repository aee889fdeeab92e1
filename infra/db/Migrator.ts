/**
 * Forward-only migrations from `migrations/NNNN_name.sql`, applied at start-up
 * and by `switchboard migrate`. One transaction under an advisory lock, so any
 * number of processes may migrate at once: the first applies, the rest wait
 * and find nothing to do. Each file's SHA-256 is recorded; an applied file that
 * changed afterwards fails start-up (migrations are never edited once landed).
 */
import { SqlClient } from "@effect/sql"
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DatabaseError, narrow } from "./DatabaseError.ts"

export class MigrationError extends Data.TaggedError("MigrationError")<{ readonly message: string }> {}

export interface Migration {
  readonly id: number
  readonly name: string
  /** The file name without `.sql`, as operators know it: `0001_jobs`. */
  readonly label: string
  readonly sql: string
  readonly checksum: string
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/

/** `migrations/` of this checkout (or of the installed package), found from this module upwards. */
const defaultDirectory = async (): Promise<string> => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, "migrations")
    if (await fs.stat(path.join(candidate, "0001_jobs.sql")).then(() => true, () => false)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error("no migrations/ folder found above the source")
    dir = parent
  }
}

export const loadMigrations = (directory?: string): Effect.Effect<ReadonlyArray<Migration>, MigrationError> =>
  Effect.tryPromise({
    try: async () => {
      const dir = directory ?? (await defaultDirectory())
      const files = (await fs.readdir(dir)).filter((f) => f.endsWith(".sql")).sort()
      const migrations: Array<Migration> = []
      for (const file of files) {
        const match = FILE.exec(file)
        if (match === null) throw new Error(`migration file ${file} is not named NNNN_name.sql`)
        const sql = await fs.readFile(path.join(dir, file), "utf8")
        migrations.push({ id: Number(match[1]), name: match[2] ?? file, label: file.slice(0, -4), sql, checksum: createHash("sha256").update(sql).digest("hex") })
      }
      const ids = migrations.map((m) => m.id)
      if (new Set(ids).size !== ids.length) throw new Error("two migration files share an id")
      return migrations
    },
    catch: (cause) => new MigrationError({ message: `cannot read migrations: ${cause instanceof Error ? cause.message : String(cause)}` })
  })

const MigrationsDir = Config.string("MIGRATIONS_DIR").pipe(
  Config.withDescription("where the NNNN_name.sql files are; found next to the source by default"),
  Config.option
)

const LOCK = 7_374_211_001 // pg_advisory_xact_lock key for migrations

interface Applied {
  readonly id: number
  readonly checksum: string
}

/** Applies the pending migrations; returns the ones it applied. */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const directory = yield* MigrationsDir.pipe(Effect.orElseSucceed(() => Option.none<string>()))
  const migrations = yield* loadMigrations(Option.getOrUndefined(directory))
  const run = Effect.gen(function* () {
    yield* sql`SELECT pg_advisory_xact_lock(${LOCK})`
    yield* sql`CREATE TABLE IF NOT EXISTS switchboard_migrations (
      id integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
    const applied = new Map((yield* sql<Applied>`SELECT id, checksum FROM switchboard_migrations`).map((row) => [row.id, row.checksum]))
    for (const m of migrations) {
      const checksum = applied.get(m.id)
      if (checksum !== undefined && checksum !== m.checksum) {
        return yield* new MigrationError({ message: `migration ${m.label} was edited after it was applied` })
      }
    }
    const pending = migrations.filter((m) => !applied.has(m.id))
    for (const m of pending) {
      yield* sql.unsafe(m.sql).pipe(
        Effect.mapError((error) => new MigrationError({ message: `migration ${m.label} failed: ${String((error.cause as Error | undefined)?.message ?? error.message)}` }))
      )
      yield* sql`INSERT INTO switchboard_migrations (id, name, checksum) VALUES (${m.id}, ${m.name}, ${m.checksum})`
    }
    return pending.map(({ id, name, label }) => ({ id, name, label }))
  })
  return yield* sql.withTransaction(run).pipe(narrow("migrate"))
}).pipe(Effect.withSpan("switchboard.migrate"))

/** Ids of the migrations applied to the database (none when the table does not exist yet). */
export const appliedMigrationIds: Effect.Effect<ReadonlyArray<number>, DatabaseError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [table] = yield* sql<{ present: boolean }>`SELECT to_regclass('switchboard_migrations') IS NOT NULL AS present`
  if (table?.present !== true) return []
  const rows = yield* sql<{ id: number }>`SELECT id FROM switchboard_migrations`
  return rows.map((row) => row.id)
}).pipe(narrow("migrations.applied"))

/** Ids among `known` that the database has not applied (readiness asks this on every probe). */
export const pendingAmong = (known: ReadonlyArray<Migration>) =>
  Effect.map(appliedMigrationIds, (applied) => known.filter((m) => !applied.includes(m.id)).map((m) => m.id))

/** Ids of migrations known to this build but not applied to the database. */
export const pendingMigrations = Effect.flatMap(loadMigrations(), pendingAmong)
