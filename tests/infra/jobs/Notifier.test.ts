import { it } from "@effect/vitest"
import { Metrics } from "../../../infra/observability/Metrics.ts"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { describe, expect } from "vitest"
import { defineJob } from "../../../domain/jobs/JobDefinition.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { make, type NotifierService } from "../../../infra/jobs/Notifier.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"
import { startProxy } from "../../support/proxy.ts"

const Job = defineJob({ kind: "test.notify", queue: "alerts", args: Schema.Struct({}) })
const fast = { probeInterval: Duration.millis(200), probeTimeout: Duration.millis(300) }

/** Polls `check` every 25 ms for up to 10 s. */
const until = (check: Effect.Effect<boolean>, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 400; i++) {
      if (yield* check) return
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** Subscribes to `alerts`, enqueues a job there, and waits (at most 5 s) to be woken. */
const wokenByAnInsert = (notifier: NotifierService, url: string) =>
  Effect.gen(function* () {
    const received = yield* Deferred.make<void>()
    yield* notifier.subscribe("alerts", () => Deferred.unsafeDone(received, Effect.void))
    yield* enqueue(Job, {}).pipe(Effect.provide(JobStore.Default), Effect.provide(Metrics.Default), Effect.provide(databaseLayer(url, 2)))
    yield* Deferred.await(received).pipe(Effect.timeout("5 seconds"))
  })

describe("Notifier", () => {
  it.live("wakes a queue's subscribers when a job is inserted, and only them", () =>
    Effect.gen(function* () {
      const url = yield* Effect.promise(cloneDatabase)
      const notifier = yield* make(url, fast)
      let other = 0
      yield* notifier.subscribe("other", () => other++)
      yield* until(notifier.isListening, "listening")
      const before = other
      yield* wokenByAnInsert(notifier, url)
      expect(other).toBe(before)
    }).pipe(Effect.scoped)
  )

  it.live("reconnects after its connection is killed and wakes everyone on the way back", () =>
    Effect.gen(function* () {
      const url = yield* Effect.promise(cloneDatabase)
      const notifier = yield* make(url, fast)
      let wakes = 0
      yield* notifier.subscribe("alerts", () => wakes++)
      yield* until(notifier.isListening, "listening")
      const before = wakes
      yield* Effect.promise(() => query(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'switchboard-listener' AND datname = current_database()"))
      yield* until(Effect.sync(() => wakes > before), "a wake-up after reconnecting")
      yield* until(notifier.isListening, "listening again")
      yield* wokenByAnInsert(notifier, url)
    }).pipe(Effect.scoped)
  )

  it.live("notices a connection that went silent (no error at all) and listens again on a new one", () =>
    Effect.gen(function* () {
      const url = yield* Effect.promise(cloneDatabase)
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startProxy(url)), (p) => Effect.promise(() => p.close()))
      const notifier = yield* make(proxy.url, fast)
      yield* until(notifier.isListening, "listening")
      expect(proxy.connections()).toBe(1)
      proxy.freeze() // the listener's connection now swallows everything, silently
      yield* until(Effect.sync(() => proxy.connections() >= 2), "a new connection after the probe timed out")
      yield* until(notifier.isListening, "listening again")
      yield* wokenByAnInsert(notifier, url)
    }).pipe(Effect.scoped)
  )
})
