/**
 * The part of Vitest's API the suites use, over `Deno.test`, so `deno test` runs
 * them unchanged (tests/deno/deno.json maps "vitest" here; scripts/deno-test.mjs
 * runs them). Assertions are Vitest's own (@vitest/expect on chai), so a matcher
 * means the same under both runners.
 *
 * Suites are collected as the file loads: each top-level `describe` or `it` is one
 * `Deno.test`, nested suites and tests are its steps. Hooks run where Vitest runs
 * them: `beforeAll`/`afterAll` around their suite, `beforeEach`/`afterEach` around
 * every test below them (outermost first before, innermost first after). A test
 * that outlives its timeout fails. Anything of Vitest's API not here (vi, mocks,
 * fake timers, snapshots, only/skip/todo) is missing on purpose: a suite that
 * needs it stays Node-only (docs/runtimes.md).
 */
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  addCustomEqualityTesters,
  customMatchers,
  getState,
  setState
} from "@vitest/expect"
import * as chai from "chai"

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the Vitest surface the suites call is untyped here; tsc checks them against Vitest's own types
type Any = any
type Hook = { readonly run: () => unknown; readonly timeout: number }
type Body = () => unknown

interface Suite {
  readonly name: string
  readonly beforeAll: Array<Hook>
  readonly afterAll: Array<Hook>
  readonly beforeEach: Array<Hook>
  readonly afterEach: Array<Hook>
  readonly children: Array<Suite | Test>
  readonly parent: Suite | undefined
}

interface Test {
  readonly name: string
  readonly body: Body
  readonly timeout: number
}

const DEFAULT_TIMEOUT = 60_000 // vitest.config.ts's testTimeout and hookTimeout

const isSuite = (node: Suite | Test): node is Suite => "children" in node

const newSuite = (name: string, parent: Suite | undefined): Suite => ({
  name,
  beforeAll: [],
  afterAll: [],
  beforeEach: [],
  afterEach: [],
  children: [],
  parent
})

/** The file's own suite: hooks outside any describe apply to every test in the file. */
const root = newSuite("", undefined)
let current = root
let topLevelRegistered = 0
let topLevelFinished = 0
let rootSetUp: Promise<void> | undefined

const withTimeout = async (what: string, ms: number, run: () => unknown): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      Promise.resolve().then(run),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

const runHooks = async (hooks: ReadonlyArray<Hook>, what: string) => {
  for (const hook of hooks) await withTimeout(what, hook.timeout, hook.run)
}

/** The suites from the root down to `suite`. */
const chain = (suite: Suite): Array<Suite> => {
  const suites: Array<Suite> = []
  for (let s: Suite | undefined = suite; s !== undefined; s = s.parent) suites.unshift(s)
  return suites
}

const runTest = async (test: Test, parent: Suite) => {
  const suites = chain(parent)
  let ran = 0
  try {
    for (const suite of suites) {
      await runHooks(suite.beforeEach, `beforeEach of "${test.name}"`)
      ran++
    }
    expect.setState({ assertionCalls: 0, currentTestName: test.name })
    await withTimeout(`"${test.name}"`, test.timeout, test.body)
  } finally {
    for (const suite of suites.slice(0, ran).reverse()) {
      await runHooks(suite.afterEach, `afterEach of "${test.name}"`)
    }
  }
}

const runSuite = async (suite: Suite, t: Deno.TestContext) => {
  await runHooks(suite.beforeAll, `beforeAll of "${suite.name}"`)
  try {
    for (const child of suite.children) {
      await t.step({
        name: child.name,
        sanitizeOps: false,
        sanitizeResources: false,
        sanitizeExit: false,
        fn: (step) => (isSuite(child) ? runSuite(child, step) : runTest(child, suite))
      })
    }
  } finally {
    await runHooks(suite.afterAll, `afterAll of "${suite.name}"`)
  }
}

/** Registers a top-level node; the file's own hooks run before the first and after the last. */
const register = (node: Suite | Test) => {
  topLevelRegistered++
  Deno.test({
    name: node.name,
    sanitizeOps: false,
    sanitizeResources: false,
    sanitizeExit: false,
    fn: async (t) => {
      rootSetUp ??= runHooks(root.beforeAll, "beforeAll") // once, and its failure fails every test of the file
      try {
        await rootSetUp
        if (isSuite(node)) await runSuite(node, t)
        else await runTest(node, root)
      } finally {
        if (++topLevelFinished === topLevelRegistered) await runHooks(root.afterAll, "afterAll")
      }
    }
  })
}

const add = (node: Suite | Test) => {
  if (current === root) register(node)
  else current.children.push(node)
}

const timeoutOf = (options: unknown): number =>
  typeof options === "number" ? options : (options as { timeout?: number } | undefined)?.timeout ?? DEFAULT_TIMEOUT

const describeSuite = (name: string, body: () => void): void => {
  const suite = newSuite(name, current)
  const parent = current
  current = suite
  try {
    body()
  } finally {
    current = parent
  }
  add(suite)
}

/** A suite that runs only when `condition` holds (a tool it needs is there); otherwise Deno reports it ignored. */
const runIf = (condition: boolean) => (name: string, body: () => void): void => {
  if (condition) describeSuite(name, body)
  else if (current === root) Deno.test({ name, ignore: true, fn: () => {} })
}

export const describe = Object.assign(describeSuite, { runIf })

/** `"%s is %d"` and `"$name"` formatting of `it.each` names, as Vitest does it. */
const format = (template: string, args: ReadonlyArray<unknown>, row: unknown): string => {
  let index = 0
  const named = template.replace(/\$([A-Za-z_][\w.]*)/g, (whole, path: string) => {
    if (typeof row !== "object" || row === null || Array.isArray(row)) return whole
    const value = path.split(".").reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], row)
    return typeof value === "string" ? value : JSON.stringify(value)
  })
  return named.replace(/%[sdijfo%]/g, (spec) => {
    if (spec === "%%") return "%"
    const value = args[index++]
    if (spec === "%j" || spec === "%o") return JSON.stringify(value)
    return String(value)
  })
}

type It = {
  (name: string, body: Body, options?: number | { timeout?: number }): void
  (name: string, options: number | { timeout?: number }, body: Body): void
  each: <T>(cases: ReadonlyArray<T>) => (name: string, body: (...args: Array<Any>) => unknown, timeout?: number) => void
}

export const it: It = Object.assign(
  (name: string, a: Body | number | { timeout?: number }, b?: Body | number | { timeout?: number }) => {
    const [body, options] = typeof a === "function" ? [a, b] : [b as Body, a]
    add({ name, body, timeout: timeoutOf(options) })
  },
  {
    each: <T>(cases: ReadonlyArray<T>) => (name: string, body: (...args: Array<Any>) => unknown, timeout?: number) => {
      for (const row of cases) {
        const args = Array.isArray(row) ? row : [row]
        add({ name: format(name, args, row), body: () => body(...args), timeout: timeoutOf(timeout) })
      }
    }
  }
) as It

export const test = it

type HookRegistration = (run: () => unknown, timeout?: number) => void
const hook = (kind: "beforeAll" | "afterAll" | "beforeEach" | "afterEach"): HookRegistration => (run, timeout) =>
  void current[kind].push({ run, timeout: timeout ?? DEFAULT_TIMEOUT })

export const beforeAll = hook("beforeAll")
export const afterAll = hook("afterAll")
export const beforeEach = hook("beforeEach")
export const afterEach = hook("afterEach")

/** What Vitest's globalSetup provides; scripts/deno-test.mjs passes it as JSON in SWITCHBOARD_TEST_PROVIDED. */
const provided: Record<string, unknown> = JSON.parse(Deno.env.get("SWITCHBOARD_TEST_PROVIDED") ?? "{}")

export const inject = (key: string): Any => {
  if (!(key in provided)) throw new Error(`nothing provided as "${key}" (run the suites with scripts/deno-test.mjs)`)
  return provided[key]
}

// Vitest's expect, built as Vitest builds it (vitest/dist/chunks/vi.*.js, createExpect).
chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(JestAsymmetricMatchers)

export const expect: Any = (value: unknown, message?: string) => {
  const { assertionCalls } = getState(expect)
  setState({ assertionCalls: assertionCalls + 1 }, expect)
  return chai.expect(value, message)
}
Object.assign(expect, chai.expect)
Object.assign(expect, (globalThis as Any)[ASYMMETRIC_MATCHERS_OBJECT])
expect.getState = () => getState(expect)
expect.setState = (state: object) => setState(state, expect)
setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null }, expect)
expect.extend = (matchers: object) => (chai.expect as Any).extend(expect, matchers)
expect.addEqualityTesters = (testers: Array<Any>) => addCustomEqualityTesters(testers)
expect.unreachable = (message?: string) => chai.assert.fail(`expected${message ? ` "${message}" ` : " "}not to be reached`)
expect.extend(customMatchers)
Object.defineProperty(globalThis, GLOBAL_EXPECT, { value: expect, writable: true, configurable: true })
