/** The application's layers, composed once for every entry point. */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DatabaseLive } from "../infra/db/Database.ts"
import { migrate } from "../infra/db/Migrator.ts"
import { EngineLive } from "../supervisors/Worker.ts"
import { crons, handlers } from "./jobs/index.ts"

export const Role = Config.literal("all", "web", "worker")("ROLE").pipe(
  Config.withDefault("all" as const),
  Config.withDescription("what this process runs: all (default), web or worker")
)

/** The database, migrated before anything uses it. */
export const MigratedDatabaseLive = Layer.effectDiscard(
  migrate.pipe(Effect.tap((applied) => (applied.length > 0 ? Effect.logInfo(`applied migrations: ${applied.map((m) => m.label).join(", ")}`) : Effect.void)))
).pipe(Layer.provideMerge(DatabaseLive))

export const EngineForRole = (role: string) => EngineLive({ role, handlers, crons })

export const AppLive = Layer.unwrapEffect(Effect.map(Role, (role) => EngineForRole(role))).pipe(Layer.provide(MigratedDatabaseLive))
