/** A fresh database per test file, cloned from the migrated template, and layers over it. */
import { Metrics } from "../../infra/observability/Metrics.ts"
import { PgClient } from "@effect/sql-pg"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import pg from "pg"
import { inject } from "vitest"
import { DatabaseUrl } from "../../infra/db/Database.ts"
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

/** SqlClient + PgClient + DatabaseUrl over `url`. */
export const databaseLayer = (url: string, maxConnections = 10) =>
  Layer.merge(PgClient.layer({ url: Redacted.make(url), maxConnections }), Layer.succeed(DatabaseUrl, Redacted.make(url)))

/** A plain pg client for assertions that should not go through the code under test. */
export const query = async <T extends object = Record<string, unknown>>(url: string, text: string, values: ReadonlyArray<unknown> = []) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text, [...values])).rows as Array<T>
  } finally {
    await client.end()
  }
}

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
