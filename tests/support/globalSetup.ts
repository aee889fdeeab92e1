/**
 * One PostgreSQL for the whole run: `DATABASE_URL` when set (its server must
 * allow CREATE DATABASE), otherwise an embedded server in a fresh temp folder.
 * A template database is migrated once; every test file clones its own
 * database from it (tests/support/database.ts).
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import type { TestProject } from "vitest/node"
import { PgClient } from "@effect/sql-pg"
import * as Redacted from "effect/Redacted"
import { startEmbedded } from "../../infra/db/EmbeddedPostgres.ts"
import { migrate } from "../../infra/db/Migrator.ts"

declare module "vitest" {
  export interface ProvidedContext {
    readonly adminUrl: string
    readonly templateDatabase: string
  }
}

const TEMPLATE = "switchboard_test_template"

/** `url` with its database name replaced. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

export default async function setup(project: TestProject) {
  let root: string | undefined
  let release = async () => {}
  let adminUrl: string
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL
  } else {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-test-"))
    await fs.chmod(root, 0o755) // the postgres user must reach it
    const server = await startEmbedded({ root, database: "postgres", log: () => {} })
    adminUrl = server.url
    release = server.release
  }
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`)
  await admin.query(`CREATE DATABASE ${TEMPLATE}`)
  await admin.end()
  await Effect.runPromise(
    migrate.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(withDatabase(adminUrl, TEMPLATE)), maxConnections: 2 })))
  )
  project.provide("adminUrl", adminUrl)
  project.provide("templateDatabase", TEMPLATE)
  return async () => {
    await release()
    if (root !== undefined) await fs.rm(root, { recursive: true, force: true })
  }
}
