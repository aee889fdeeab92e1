/**
 * The Postgres client layer: `DATABASE_URL` when set, otherwise the embedded
 * server (see EmbeddedPostgres.ts). Provides `SqlClient`/`PgClient` for the
 * repositories, `DatabaseUrl` for the components that hold a connection of
 * their own (the LISTEN connection), and `DatabaseOutage`, which logs each
 * outage once.
 */
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import Pg from "pg"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import { DatabaseError, detailOf } from "./DatabaseError.ts"
import { DatabaseOutage } from "./DatabaseOutage.ts"
import { startEmbedded } from "./EmbeddedPostgres.ts"
import { PreparingClient } from "./PreparingClient.ts"

export class DatabaseUrl extends Context.Tag("switchboard/infra/DatabaseUrl")<DatabaseUrl, Redacted.Redacted<string>>() {}

export const DatabaseConfig = Config.all({
  url: Config.option(
    Config.redacted("DATABASE_URL").pipe(
      Config.withDescription("PostgreSQL connection URL; when unset an embedded server is started")
    )
  ),
  dataDir: Config.string("SWITCHBOARD_DATA_DIR").pipe(
    Config.withDefault(".switchboard"),
    Config.withDescription("where the embedded PostgreSQL keeps its data")
  ),
  poolSize: Config.integer("DATABASE_POOL_SIZE").pipe(
    Config.withDefault(20),
    Config.validate({ message: "DATABASE_POOL_SIZE must be between 2 and 500", validation: (n) => n >= 2 && n <= 500 }),
    Config.withDescription("connections in the shared pool (the LISTEN connection is extra)")
  ),
  preparedStatements: Config.boolean("DATABASE_PREPARED_STATEMENTS").pipe(
    Config.withDefault(true),
    Config.withDescription(
      "prepare each parameterised statement once per connection; false for a pooler that cannot keep them (PgBouncer in transaction mode before 1.21, or without max_prepared_statements)"
    )
  )
})

/** The embedded server, started (or joined) for the life of the scope. */
const embedded = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.flatMap(Effect.runtime<never>(), (runtime) => Effect.tryPromise({
      try: () =>
        startEmbedded({ root: dataDir, database: "switchboard", log: (message) => Runtime.runSync(runtime)(Effect.logInfo(message)) }),
      catch: (cause) =>
        new DatabaseError({ operation: "embedded postgres", message: `could not start the embedded PostgreSQL: ${String(cause)}`, cause })
    })),
    (server) => Effect.promise(() => server.release())
  ).pipe(Effect.map((server) => Redacted.make(server.url)))

export const DatabaseUrlLive: Layer.Layer<DatabaseUrl, DatabaseError | ConfigError.ConfigError> =
  Layer.scoped(
    DatabaseUrl,
    Effect.gen(function* () {
      const config = yield* DatabaseConfig
      return yield* Option.match(config.url, { onSome: Effect.succeed, onNone: () => embedded(config.dataDir) })
    })
  )

/** The shared pool's connections right now: checked out, idle, and requests waiting for one. */
export interface PoolUsage {
  readonly inUse: number
  readonly idle: number
  readonly waiting: number
  readonly max: number
}

/** Reads the shared pool's usage (for the metrics: `switchboard_db_pool_connections`). */
export class DatabasePool extends Context.Tag("switchboard/infra/DatabasePool")<DatabasePool, { readonly usage: Effect.Effect<PoolUsage> }>() {}

const CONNECT_TIMEOUT = Duration.seconds(10)

/**
 * The shared `pg` pool, made here rather than inside PgClient so its usage can be read and its connections
 * name their statements (PreparingClient.ts); checked with one `SELECT 1` (as PgClient's own constructor
 * does) and ended with the scope.
 */
const pool = (url: Redacted.Redacted<string>, size: number, prepared: boolean) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const made = new Pg.Pool({
        connectionString: Redacted.value(url),
        max: size,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: Duration.toMillis(CONNECT_TIMEOUT),
        application_name: "switchboard",
        Client: prepared ? PreparingClient : Pg.Client
      })
      made.on("error", () => {}) // an idle connection's error: the next checkout gets a fresh one
      return made
    }),
    (made) => Effect.promise(() => made.end()).pipe(Effect.timeoutOption(Duration.seconds(1)))
  ).pipe(
    Effect.tap((made) =>
      Effect.tryPromise({ try: () => made.query("SELECT 1"), catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" }) }).pipe(
        Effect.timeoutFail({ duration: CONNECT_TIMEOUT, onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: Connection timed out" }) })
      )
    )
  )

/**
 * SqlClient + PgClient over `url` with a pool of `size` connections, and `DatabasePool` for the pool's usage;
 * parameterised statements prepared once per connection unless `prepared` is false.
 */
export const sqlLayer = (url: Redacted.Redacted<string>, size: number, prepared = true) =>
  Layer.unwrapScoped(
    Effect.map(pool(url, size, prepared), (shared) => {
      const usage = Effect.sync(
        (): PoolUsage => ({ inUse: shared.totalCount - shared.idleCount, idle: shared.idleCount, waiting: shared.waitingCount, max: size })
      )
      return Layer.merge(
        PgClient.layerFromPool({ acquire: Effect.succeed(shared), applicationName: "switchboard" }),
        Layer.succeed(DatabasePool, { usage })
      )
    })
  ).pipe(Layer.mapError((error) => new DatabaseError({ operation: "connect", message: `could not connect to PostgreSQL: ${detailOf(error)}`, cause: error })))

/** `sqlLayer` over the URL in `DatabaseUrl`, as `DATABASE_POOL_SIZE` and `DATABASE_PREPARED_STATEMENTS` say. */
export const SqlLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const url = yield* DatabaseUrl
    const { poolSize, preparedStatements } = yield* DatabaseConfig
    return sqlLayer(url, poolSize, preparedStatements)
  })
)

export const DatabaseLive = DatabaseOutage.Default.pipe(Layer.provideMerge(SqlLive), Layer.provideMerge(DatabaseUrlLive))
