/**
 * The OpenAPI document against the application it describes: the document
 * the app serves at /openapi.json is the one generated from the route table,
 * it names exactly the operations the Hono app mounts (no more, no fewer),
 * and every operation is complete (a unique operationId, a summary, tags, its
 * client errors, the bearer scheme of the admin API). Redocly's recommended
 * rules find no error in it.
 *
 * The app is built in-process with no database: the route table is read and
 * only the document's own handler runs.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type { Hono } from "hono"
import { describe, expect, it } from "vitest"
import { Metrics } from "../../../infra/observability/Metrics.ts"
import { isConsolePath } from "../../../src/console/ConsoleApp.ts"
import { allRoutes } from "../../../src/http/contract/index.ts"
import type { HttpEnv } from "../../../src/http/Handler.ts"
import { Health } from "../../../src/http/Health.ts"
import { makeHttpApp } from "../../../src/http/HttpApp.ts"
import { makeDocument } from "../../../src/http/OpenApi.ts"

interface Operation {
  readonly operationId?: string
  readonly summary?: string
  readonly tags?: ReadonlyArray<string>
  readonly security?: ReadonlyArray<Record<string, ReadonlyArray<string>>>
  readonly parameters?: ReadonlyArray<{ readonly name: string; readonly in: string; readonly required?: boolean }>
  readonly requestBody?: { readonly content: Record<string, unknown> }
  readonly responses: Record<string, unknown>
}

interface Document {
  readonly openapi: string
  readonly servers: ReadonlyArray<{ readonly url: string }>
  readonly tags: ReadonlyArray<{ readonly name: string }>
  readonly paths: Record<string, Record<string, Operation>>
  readonly components: { readonly securitySchemes: Record<string, { readonly type: string; readonly scheme?: string }> }
}

const ROOT = path.resolve(import.meta.dirname, "../../..")

/** Nothing here runs a probe: the health checks only have to exist. */
const unusedCheck = Effect.dieMessage("not used by this test")
const health = Health.make({ actors: unusedCheck, database: unusedCheck, draining: unusedCheck, twilio: unusedCheck })

/**
 * The Hono app of a process of `role`. Its handlers' services (job store,
 * database, Twilio) are left out: building the app does not use them, and the
 * only handler these tests run, the document's, needs none.
 */
const appOf = (role: "all" | "worker", env: Record<string, string> = {}): Promise<Hono<HttpEnv>> =>
  Effect.runPromise(
    (makeHttpApp({ role, definitions: [] }) as Effect.Effect<Hono<HttpEnv>, ConfigError.ConfigError, Metrics | Health>).pipe(
      Effect.provide(Metrics.Default),
      Effect.provideService(Health, health),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ ADMIN_TOKEN: "openapi-test-admin-token", LOG_LEVEL: "warning", ...env }))))
    )
  )

/** `METHOD /path/{param}` of every route the app mounts (middleware registrations left out). */
const mounted = (app: Hono<HttpEnv>): ReadonlySet<string> =>
  new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`))

const documented = (doc: Document): ReadonlySet<string> =>
  new Set(Object.entries(doc.paths).flatMap(([template, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${template}`)))

const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([template, byMethod]) => Object.entries(byMethod).map(([method, operation]) => ({ label: `${method.toUpperCase()} ${template}`, template, operation })))

const served = async (app: Hono<HttpEnv>): Promise<Document> => {
  const response = await app.request("/openapi.json")
  expect(response.status).toBe(200)
  expect(response.headers.get("content-type")).toMatch(/^application\/json/)
  return (await response.json()) as Document
}

describe("the OpenAPI document", () => {
  it("is what the app serves at /openapi.json, generated from the route table, with PUBLIC_BASE_URL as its server", async () => {
    const doc = await served(await appOf("all"))
    expect(doc).toEqual(JSON.parse(JSON.stringify(makeDocument(allRoutes, { serverUrl: "/" }))))
    expect(doc.openapi).toBe("3.1.0")
    expect(doc.servers).toEqual([expect.objectContaining({ url: "/" })])
    const behindProxy = await served(await appOf("all", { PUBLIC_BASE_URL: "https://switchboard.example.com/" }))
    expect(behindProxy.servers).toEqual([expect.objectContaining({ url: "https://switchboard.example.com" })])
  })

  it("names exactly the operations the app mounts", async () => {
    const app = await appOf("all")
    const doc = await served(app)
    // the console's pages and forms are a user interface, not the API: they are left out of the document on purpose
    const all = mounted(app)
    const routes = new Set([...all].filter((r) => !isConsolePath(r.split(" ")[1] ?? "")))
    expect(all.size - routes.size, "the console's routes").toBeGreaterThan(10)
    expect(routes.size).toBeGreaterThan(20)
    expect([...routes].filter((r) => !documented(doc).has(r)), "mounted but not documented").toEqual([])
    expect([...documented(doc)].filter((r) => !routes.has(r)), "documented but not mounted").toEqual([])
    // a worker serves a part of it: the operations routes and Twilio's webhooks
    const worker = mounted(await appOf("worker"))
    expect([...worker].filter((r) => !documented(doc).has(r))).toEqual([])
    expect([...worker].sort()).toEqual([...documented(doc)].filter((r) => !/ \/(admin|v1|widget|demo)\b/.test(r)).sort())
  })

  it("gives every operation a unique operationId, a summary and known tags", async () => {
    const doc = await served(await appOf("all"))
    const tags = new Set(doc.tags.map((t) => t.name))
    const ids = operations(doc).map(({ label, operation }) => {
      expect(operation.operationId, label).toMatch(/^[a-z][A-Za-z0-9]+$/)
      expect(operation.summary?.length ?? 0, label).toBeGreaterThan(5)
      expect(operation.tags?.length ?? 0, label).toBeGreaterThan(0)
      for (const tag of operation.tags ?? []) expect(tags.has(tag), `${label}: tag ${tag}`).toBe(true)
      return operation.operationId
    })
    expect(new Set(ids).size).toBe(ids.length)
  })

  it("lists the client errors of every operation that takes input or credentials", async () => {
    const doc = await served(await appOf("all"))
    for (const { label, operation } of operations(doc)) {
      const statuses = Object.keys(operation.responses)
      const open = (operation.security ?? []).some((requirement) => Object.keys(requirement).length === 0)
      const takesInput = (operation.parameters ?? []).length > 0 || operation.requestBody !== undefined
      // public-safe: anyone may call it and there is nothing in the request to get wrong
      if (!open || takesInput) expect(statuses.some((s) => /^4\d\d$/.test(s)), `${label} has no 4xx`).toBe(true)
      if (operation.requestBody !== undefined) {
        expect(statuses, `${label} reads a body: malformed (400) and too large (413)`).toEqual(expect.arrayContaining(["400", "413"]))
      }
      if ((operation.parameters ?? []).some((p) => p.in === "query")) expect(statuses, `${label} has a query`).toContain("400")
    }
  })

  it("puts the admin API behind the bearer scheme, with its 401 and 403", async () => {
    const doc = await served(await appOf("all"))
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: "http", scheme: "bearer" })
    const admin = operations(doc).filter(({ template }) => template.startsWith("/admin/api/"))
    expect(admin.length).toBeGreaterThan(10)
    for (const { label, operation } of admin) {
      expect(operation.security, label).toEqual([{ adminToken: [] }])
      expect(Object.keys(operation.responses), label).toEqual(expect.arrayContaining(["401", "403"]))
    }
    // the rest is not behind the admin token alone: a route that takes either kind of business key (?key= too) also takes it,
    // a business's own routes take its secret key only; /metrics may be behind its own
    for (const { label, template, operation } of operations(doc).filter(({ template }) => !template.startsWith("/admin/api/"))) {
      const security = JSON.stringify(operation.security)
      if (security.includes("publishableKey")) expect(operation.security, label).toEqual([{ publishableKey: [] }, { businessKey: [] }, { adminToken: [] }])
      else if (security.includes("businessKey")) expect(operation.security, label).toEqual([{ businessKey: [] }])
      else expect(security, label).not.toContain("adminToken")
      // the public API reads a credential on every route: a bad one is a 401, a page from an origin not allowed a 403
      if (template.startsWith("/v1/")) expect(Object.keys(operation.responses), label).toEqual(expect.arrayContaining(["401", "403"]))
    }
    expect(operations(doc).filter(({ operation }) => JSON.stringify(operation.security) === JSON.stringify([{ businessKey: [] }])).length).toBeGreaterThanOrEqual(9)
    expect(doc.paths["/metrics"]?.get?.security).toEqual([{}, { metricsToken: [] }])
    for (const { label, operation } of operations(doc).filter(({ template }) => template.startsWith("/twilio/"))) {
      expect(operation.parameters?.find((p) => p.name === "X-Twilio-Signature"), label).toMatchObject({ in: "header", required: true })
      expect(Object.keys(operation.responses), label).toContain("403")
      expect(Object.keys(operation.requestBody?.content ?? {}), label).toEqual(["application/x-www-form-urlencoded"])
    }
  })

  it("passes Redocly's recommended rules (npm run lint:openapi) without an error", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/lint-openapi.mjs"), "--format=summary"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 50_000
    })
    const output = `${result.stdout}\n${result.stderr}`
    expect(result.status, output).toBe(0)
    expect(output).toContain("Your API description is valid")
  })
})
