/**
 * Switchboard in the job benchmark: the real engine (EngineLive) in this
 * process on the app's own connection pool (`sqlLayer`: statements prepared),
 * one pool on queue `bench` with `concurrency` runners and a local prefetch of
 * 500 claimed jobs (the same buffer graphile-worker gets with
 * `localQueue: { size: 500 }`); bulk enqueue through `enqueueMany`.
 */
import { Metrics } from "../infra/observability/Metrics.ts"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import { defineJob } from "../domain/jobs/JobDefinition.ts"
import { DatabaseUrl, sqlLayer } from "../infra/db/Database.ts"
import { migrate } from "../infra/db/Migrator.ts"
import { enqueue, enqueueMany } from "../infra/jobs/Jobs.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { handle } from "../supervisors/JobRegistry.ts"
import { HealthRegistryLive } from "../supervisors/HealthRegistry.ts"
import { EngineLive } from "../supervisors/Worker.ts"
import { type BenchSystem, inChunks } from "./system.ts"

const Noop = defineJob({ kind: "bench.noop", queue: "bench", args: Schema.Struct({ sentAt: Schema.optional(Schema.Number) }) })

const PREFETCH = 500

export const switchboard = (): BenchSystem => {
  let database: Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | DatabaseUrl | Metrics, unknown> | undefined
  let runtime: ManagedRuntime.ManagedRuntime<JobStore | PgClient.PgClient | SqlClient.SqlClient | DatabaseUrl, unknown> | undefined
  let worker: Fiber.RuntimeFiber<unknown, unknown> | undefined

  const rt = () => {
    if (runtime === undefined) throw new Error("setup() first")
    return runtime
  }

  return {
    name: "switchboard",
    async setup(url) {
      database = Layer.mergeAll(sqlLayer(Redacted.make(url), 10), Layer.succeed(DatabaseUrl, Redacted.make(url)), Metrics.Default)
      runtime = ManagedRuntime.make(JobStore.Default.pipe(Layer.provideMerge(database)))
      await rt().runPromise(migrate)
    },
    async enqueueBulk(n) {
      await inChunks(n, (size) => rt().runPromise(enqueueMany(Noop, Array.from({ length: size }, () => ({ args: {} })))))
    },
    async enqueueOne(sentAt) {
      await rt().runPromise(enqueue(Noop, { sentAt }))
    },
    async startWorker(concurrency, onJob) {
      if (database === undefined) throw new Error("setup() first")
      const handler = handle(Noop, (args) => Effect.sync(() => onJob(args.sentAt)))
      const config = ConfigProvider.fromMap(new Map([["QUEUES", `bench:${concurrency}:${PREFETCH}`], ["SHUTDOWN_GRACE", "1s"]]))
      const engine = EngineLive({ role: "bench", handlers: [handler] }).pipe(Layer.provide(database), Layer.provide(HealthRegistryLive))
      // resolves once the engine's layer is built: process registered, pools claiming
      await new Promise<void>((resolve, reject) => {
        worker = Effect.runFork(
          Effect.scoped(Layer.build(engine).pipe(Effect.zipRight(Effect.sync(resolve)), Effect.zipRight(Effect.never))).pipe(
            Effect.withConfigProvider(config),
            Effect.tapErrorCause((cause) => Effect.sync(() => reject(new Error(String(cause)))))
          )
        )
      })
    },
    async stopWorker() {
      if (worker !== undefined) await Effect.runPromise(Fiber.interrupt(worker))
      worker = undefined
    },
    async teardown() {
      await runtime?.dispose()
      runtime = undefined
    }
  }
}
