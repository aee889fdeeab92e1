import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { loadMigrations, migrate, pendingMigrations } from "../../../infra/db/Migrator.ts"
import { emptyDatabase, query } from "../../support/database.ts"

const onDatabase = (url: string) => <A, E>(effect: Effect.Effect<A, E, PgClient.PgClient | SqlClient.SqlClient>) =>
  Effect.runPromise(Effect.scoped(effect.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })))))

const withMigrationsDir = (dir: string) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["MIGRATIONS_DIR", dir]])))

describe("migrations", () => {
  it("are safe to run from several processes at once: one applies, the rest find nothing to do", async () => {
    const url = await emptyDatabase()
    const results = await Promise.all(Array.from({ length: 5 }, () => onDatabase(url)(migrate)))
    const applied = results.flat()
    const all = await Effect.runPromise(loadMigrations())
    expect(applied.map((m) => m.id)).toEqual(all.map((m) => m.id))
    expect(await query(url, "SELECT count(*)::int AS n FROM switchboard_migrations")).toEqual([{ n: all.length }])
    expect(await onDatabase(url)(pendingMigrations)).toEqual([])
    expect(await onDatabase(url)(migrate)).toEqual([])
  })

  it("refuse to start when an applied migration was edited", async () => {
    const url = await emptyDatabase()
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "migrations-"))
    await fs.writeFile(path.join(dir, "0001_first.sql"), "CREATE TABLE first (id int);")
    await onDatabase(url)(migrate.pipe(withMigrationsDir(dir)))
    await fs.writeFile(path.join(dir, "0001_first.sql"), "CREATE TABLE first (id bigint);")
    await fs.writeFile(path.join(dir, "0002_second.sql"), "CREATE TABLE second (id int);")
    const error = await onDatabase(url)(migrate.pipe(withMigrationsDir(dir), Effect.flip))
    expect(error.message).toContain("0001_first was edited")
    expect(await query(url, "SELECT to_regclass('second') AS t")).toEqual([{ t: null }])
  })

  it("apply nothing of a failing migration", async () => {
    const url = await emptyDatabase()
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "migrations-"))
    await fs.writeFile(path.join(dir, "0001_ok.sql"), "CREATE TABLE ok (id int);")
    await fs.writeFile(path.join(dir, "0002_broken.sql"), "CREATE TABLE broken (id int); SELECT * FROM missing_table;")
    const error = await onDatabase(url)(migrate.pipe(withMigrationsDir(dir), Effect.flip))
    expect(error.message).toMatch(/0002_broken failed: .*missing_table/)
    expect(await query(url, "SELECT to_regclass('ok') AS ok, to_regclass('broken') AS broken")).toEqual([{ ok: null, broken: null }])
  })

  it("reject files that are not named NNNN_name.sql", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "migrations-"))
    await fs.writeFile(path.join(dir, "1_bad-name.sql"), "SELECT 1;")
    const error = await Effect.runPromise(Effect.flip(loadMigrations(dir)))
    expect(error.message).toContain("1_bad-name.sql")
  })
})
