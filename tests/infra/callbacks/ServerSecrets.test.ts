/**
 * CODE_SECRET: required in production (at least 32 characters), otherwise
 * generated once and shared through `server_secrets` by every process, even
 * when the first to ask was inside a transaction that rolled back; codes are
 * HMACs under it.
 */
import { SqlClient } from "@effect/sql"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { codeOf, hashCode } from "../../../infra/callbacks/Codes.ts"
import { codeSecretConfig, ServerSecrets } from "../../../infra/callbacks/ServerSecrets.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

const withEnv = (env: Record<string, string>) => Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const configWith = (env: Record<string, string>) => Effect.runPromiseExit(codeSecretConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

const LONG = "a-code-secret-of-at-least-32-characters"

describe("CODE_SECRET configuration", () => {
  it("is required in production: unset fails start-up naming it", async () => {
    const exit = await configWith({ NODE_ENV: "production" })
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("CODE_SECRET must be set when NODE_ENV=production")
  })

  it("must be at least 32 characters, in production or not", async () => {
    const envs: ReadonlyArray<Record<string, string>> = [{ NODE_ENV: "production", CODE_SECRET: "short" }, { CODE_SECRET: "x".repeat(31) }]
    for (const env of envs) {
      const exit = await configWith(env)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("CODE_SECRET must be at least 32 characters")
    }
  })

  it("is used as given when set; unset outside production it is left to the database", async () => {
    const set = await configWith({ NODE_ENV: "production", CODE_SECRET: LONG })
    expect(Exit.isSuccess(set) && Option.map(set.value, Redacted.value)).toEqual(Option.some(LONG))
    const unset = await configWith({})
    expect(Exit.isSuccess(unset) && Option.isNone(unset.value)).toBe(true)
  })

  it("keys the codes' HMAC: the same code of one request hashes alike under one secret only", () => {
    const id = "5d0c8a5e-8f58-4a8e-b1de-f0d1f3c4e9a2"
    const a = Redacted.make(LONG)
    const b = Redacted.make(LONG + "!")
    expect(hashCode(a, id, "123456")).toBe(hashCode(Redacted.make(LONG), id, "123456"))
    expect(hashCode(a, id, "123456")).not.toBe(hashCode(b, id, "123456"))
    expect(hashCode(a, id, "123456")).not.toBe(hashCode(a, id, "123457"))
    expect(hashCode(a, id, "123456")).toMatch(/^[0-9a-f]{64}$/)
  })

  it("derives an issue's code from the secret, the request and the moment it was issued: the same three, the same code", () => {
    const id = "5d0c8a5e-8f58-4a8e-b1de-f0d1f3c4e9a2"
    const a = Redacted.make(LONG)
    const at = new Date("2026-12-07T10:00:00.123Z")
    expect(codeOf(a, id, at)).toBe(codeOf(Redacted.make(LONG), id, new Date(at.getTime())))
    expect(codeOf(a, id, at)).toMatch(/^\d{6}$/)
    // over 2,000 issues, each input changes the code (a collision of two uniform codes is 1 in 10^6 per pair)
    const issues = Array.from({ length: 2_000 }, (_, i) => new Date(at.getTime() + i))
    const codes = issues.map((issued) => codeOf(a, id, issued))
    expect(new Set(codes).size).toBeGreaterThan(1_990)
    expect(issues.filter((issued) => codeOf(a, id, issued) === codeOf(Redacted.make(LONG + "!"), id, issued)).length).toBeLessThan(3)
    expect(issues.filter((issued) => codeOf(a, id, issued) === codeOf(a, "0b7d6c1a-3f2e-4d5c-9b8a-7e6f5d4c3b2a", issued)).length).toBeLessThan(3)
    // every digit is as likely in every place: 12,000 digits, each place's counts within 4 standard deviations of 200
    for (let place = 0; place < 6; place++) {
      const counts = Array.from({ length: 10 }, (_, d) => codes.filter((code) => code[place] === String(d)).length)
      expect(counts.every((n) => Math.abs(n - 200) < 4 * Math.sqrt(200 * 0.9))).toBe(true)
    }
  })
})

describe("the generated secret", () => {
  let url: string
  const runtimes: Array<ManagedRuntime.ManagedRuntime<ServerSecrets | SqlClient.SqlClient, unknown>> = []
  /** A runtime of its own (its own pool), as another process would have. */
  const process = (env: Record<string, string> = {}) => {
    const runtime = ManagedRuntime.make(ServerSecrets.Default.pipe(Layer.provideMerge(databaseLayer(url, 4)), Layer.provide(withEnv(env))))
    runtimes.push(runtime)
    return runtime
  }
  const secretOf = (runtime: (typeof runtimes)[number]) => runtime.runPromise(Effect.flatMap(ServerSecrets, (s) => s.codeSecret)).then(Redacted.value)
  beforeAll(async () => {
    url = await cloneDatabase()
  })
  afterAll(() => Promise.all(runtimes.map((r) => r.dispose())))

  it("is generated once and shared by every process, even when the first to ask rolls its transaction back", async () => {
    const first = process()
    const rolledBack = await first.runPromiseExit(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(Effect.zipRight(Effect.flatMap(ServerSecrets, (s) => s.codeSecret), Effect.fail("roll back"))))
    )
    expect(Exit.isFailure(rolledBack)).toBe(true)
    const others = await Promise.all(Array.from({ length: 4 }, () => secretOf(process())))
    const mine = await secretOf(first)
    expect(new Set([mine, ...others]).size).toBe(1)
    expect(mine.length).toBeGreaterThanOrEqual(32)
    const rows = await query<{ value: string }>(url, "SELECT value FROM server_secrets WHERE name = 'code'")
    expect(rows).toEqual([{ value: mine }])
  })

  it("a configured CODE_SECRET wins over the stored one", async () => {
    expect(await secretOf(process({ CODE_SECRET: LONG }))).toBe(LONG)
  })
})
