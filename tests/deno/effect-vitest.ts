/**
 * The part of @effect/vitest the suites use (it.effect, it.live, it.scoped,
 * it.scopedLive, layer), over tests/deno/vitest.ts, for `deno test`
 * (tests/deno/deno.json maps "@effect/vitest" here). The semantics follow
 * @effect/vitest 0.x: `effect` and `scoped` run with the test services (TestClock
 * and friends, default logger removed), `live` and `scopedLive` without them; a
 * `layer` is built once before its suite's tests, shared by them, closed after;
 * a failure throws the first of Cause.prettyErrors.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as TestContext from "effect/TestContext"
import * as V from "./vitest.ts"

export { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject } from "./vitest.ts"

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the Vitest surface the suites call is untyped here; tsc checks them against Vitest's own types
type Any = any
type TestEffect = (context: Any) => Effect.Effect<unknown, unknown, Any>
type Tester = (name: string, body: TestEffect, timeout?: number | { timeout?: number }) => void

const TestEnv = TestContext.TestContext.pipe(Layer.provide(Logger.remove(Logger.defaultLogger)))

const run = async (effect: Effect.Effect<unknown, unknown, never>): Promise<unknown> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  if (Cause.isInterruptedOnly(exit.cause)) throw new Error("All fibers interrupted without errors.")
  const [first, ...rest] = Cause.prettyErrors(exit.cause)
  for (const error of rest) console.error(error)
  throw first
}

const tester = (wrap: (effect: Effect.Effect<unknown, unknown, Any>) => Effect.Effect<unknown, unknown, never>): Tester =>
  (name, body, timeout) => V.it(name, () => run(wrap(Effect.suspend(() => body({})))), timeout)

const methods = (provide: (effect: Effect.Effect<unknown, unknown, Any>) => Effect.Effect<unknown, unknown, never>) => ({
  effect: tester(provide),
  scoped: tester((effect) => provide(Effect.scoped(effect)))
})

type ItApi = typeof V.it & {
  effect: Tester
  scoped: Tester
  live: Tester
  scopedLive: Tester
}

export const it: ItApi = Object.assign((...args: Parameters<typeof V.it>) => V.it(...args), V.it, {
  ...methods((effect) => Effect.provide(effect, TestEnv) as Effect.Effect<unknown, unknown, never>),
  live: tester((effect) => effect as Effect.Effect<unknown, unknown, never>),
  scopedLive: tester((effect) => Effect.scoped(effect) as Effect.Effect<unknown, unknown, never>)
}) as ItApi

type LayerOptions = { readonly timeout?: number; readonly excludeTestServices?: boolean }
type LayerIt = typeof V.it & { effect: Tester; scoped: Tester }

/** `layer(L, options)(name, (it) => ...)`: the suite's tests share one build of L. */
export const layer = <ROut, E>(layer_: Layer.Layer<ROut, E>, options?: LayerOptions) =>
  (name: string, body: (it: LayerIt) => void): void =>
    V.describe(name, () => {
      const built = options?.excludeTestServices ? layer_ : Layer.provideMerge(layer_, TestEnv)
      const runtime = ManagedRuntime.make(built as Layer.Layer<Any, E>)
      V.beforeAll(() => runtime.runPromise(Effect.void), options?.timeout)
      V.afterAll(() => runtime.dispose(), options?.timeout)
      const inRuntime = (effect: Effect.Effect<unknown, unknown, Any>) =>
        Effect.promise(() => runtime.runPromiseExit(effect)).pipe(Effect.flatten) as Effect.Effect<unknown, unknown, never>
      body(Object.assign((...args: Parameters<typeof V.it>) => V.it(...args), V.it, methods(inRuntime)) as LayerIt)
    })
