/**
 * Response conformance: every response the HTTP suites receive from the app
 * is checked against the OpenAPI document (the one `/openapi.json` serves,
 * made from the route table), so a handler that drifts from its contract
 * fails the test that saw the response, not a reviewer's eye.
 *
 * For a response to `METHOD /concrete/path` the checker finds the operation
 * whose templated path matches (literal segments win over `{params}`) and
 * asserts that the status is declared for it (its own responses or a problem
 * it lists), that the content type is one the response declares, and that a
 * JSON body validates against the declared schema (ajv, JSON Schema 2020-12,
 * the dialect of OpenAPI 3.1). A path or method the document does not name is
 * only fine when the app answered it with a valid problem document (its 404
 * `not-found`, or the 401 of the admin prefix); anything else there is "not in
 * the document".
 *
 * The shared helpers run it on every response: `request` and `fetch`
 * (app.ts) and the typed clients (the `checkResponses` middleware below); a
 * violation throws from the helper, naming the method, path, status and what
 * did not match. A worker process is checked against the operations it
 * serves, so its unknown-route 404 for the admin API is not drift.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import type { Middleware } from "openapi-fetch"
import type { Role } from "../../src/App.ts"
import { allRoutes } from "../../src/http/contract/index.ts"
import { operationRoutesContract } from "../../src/http/contract/Operations.ts"
import { twilioRoutesContract } from "../../src/http/contract/Twilio.ts"
import { makeDocument } from "../../src/http/OpenApi.ts"

type JsonObject = Record<string, unknown>

const DOCUMENT_ID = "https://switchboard.invalid/openapi.json"
const METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"])

export class ConformanceError extends Error {
  override readonly name = "ConformanceError"
}

export interface Conformance {
  /**
   * What is wrong with one response (empty when it conforms). `path` is the
   * concrete path, with or without its query; `body` the raw text ("" for none).
   */
  readonly checkResponse: (method: string, path: string, status: number, contentType: string | null, body: string) => ReadonlyArray<string>
}

/** JSON Pointer (RFC 6901) of `parts`. */
const pointer = (...parts: ReadonlyArray<string>) => parts.map((p) => `/${p.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("")

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

interface MediaType {
  readonly essence: string
  readonly parameters: ReadonlyMap<string, string>
}

const parseMediaType = (text: string): MediaType => {
  const [essence = "", ...parameters] = text.split(";")
  return {
    essence: essence.trim().toLowerCase(),
    parameters: new Map(
      parameters.flatMap((p) => {
        const at = p.indexOf("=")
        return at < 0 ? [] : [[p.slice(0, at).trim().toLowerCase(), p.slice(at + 1).trim().replace(/^"(.*)"$/, "$1")] as const]
      })
    )
  }
}

/** A declared media type covers the actual one: same type, and every parameter it names (`version=0.0.4`) with the same value; others (`charset`) may be added. */
const covers = (declared: MediaType, actual: MediaType) =>
  declared.essence === actual.essence && [...declared.parameters].every(([name, value]) => actual.parameters.get(name)?.toLowerCase() === value.toLowerCase())

const isJson = (media: MediaType) => media.essence === "application/json" || media.essence.endsWith("+json")

const describeError = (e: ErrorObject) => {
  const at = e.instancePath === "" ? "the body" : e.instancePath
  const params = Object.entries(e.params as JsonObject)
    .filter(([key]) => key !== "missingProperty" || !e.message?.includes(String(e.params.missingProperty)))
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
  return `${at} ${e.message ?? "is invalid"}${params.length === 0 ? "" : ` (${params.join(", ")})`}`
}

interface PathEntry {
  readonly template: string
  readonly pattern: RegExp
  readonly literals: number
  readonly item: JsonObject
}

export const makeConformance = (document: JsonObject): Conformance => {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTuples: false, strictRequired: false, strictTypes: false })
  addFormats.default(ajv)
  // the document itself is the root schema the pointers below lead into; its own members are not keywords
  ajv.addVocabulary(Object.keys(document).filter((key) => !key.startsWith("$")))
  ajv.addSchema(document, DOCUMENT_ID)
  const validators = new Map<string, ValidateFunction>()
  const validatorAt = (at: string): ValidateFunction => {
    let validate = validators.get(at)
    if (validate === undefined) {
      validate = ajv.getSchema(`${DOCUMENT_ID}#${at}`)
      if (validate === undefined) throw new Error(`the document has no schema at ${at}`)
      validators.set(at, validate)
    }
    return validate
  }

  const paths = isObject(document.paths) ? document.paths : {}
  const entries: Array<PathEntry> = Object.entries(paths).map(([template, item]) => {
    const segments = template.split("/").slice(1)
    const source = segments.map((s) => (/^\{[^}]+\}$/.test(s) ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/")
    return { template, pattern: new RegExp(`^/${source}$`), literals: segments.filter((s) => !s.startsWith("{")).length, item: item as JsonObject }
  })
  // a literal segment beats a parameter: /admin/api/jobs/stats before /admin/api/jobs/{id}
  entries.sort((a, b) => b.literals - a.literals)

  /** `#/components/responses/x` -> its pointer and object. */
  const resolve = (at: string, value: unknown): { at: string; value: JsonObject } => {
    if (isObject(value) && typeof value.$ref === "string" && value.$ref.startsWith("#/")) {
      const target = value.$ref.slice(1)
      const parts = target.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      let node: unknown = document
      for (const part of parts) node = isObject(node) ? node[part] : undefined
      if (!isObject(node)) throw new Error(`the document's reference ${value.$ref} (at ${at}) leads nowhere`)
      return resolve(target, node)
    }
    return { at, value: isObject(value) ? value : {} }
  }

  const validateJson = (schemaAt: string, body: string): ReadonlyArray<string> => {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      return [`the body is not JSON: ${body.slice(0, 80)}`]
    }
    const validate = validatorAt(schemaAt)
    return validate(parsed) ? [] : (validate.errors ?? []).map(describeError)
  }

  /** A response to a path or method the document does not name: only the app's problem document is fine. */
  const checkUndocumented = (method: string, path: string, status: number, contentType: string | null, body: string): ReadonlyArray<string> => {
    const what = `${method.toUpperCase()} ${path} is not in the document`
    const media = contentType === null ? undefined : parseMediaType(contentType)
    if (media?.essence !== "application/problem+json" || status < 400) return [`${what} (answered ${status} ${contentType ?? "without a body"})`]
    if (method.toLowerCase() === "head") return []
    return validateJson(pointer("components", "schemas", "Problem"), body).map((e) => `${what}, and its problem document does not conform: ${e}`)
  }

  const checkResponse: Conformance["checkResponse"] = (method, rawPath, status, contentType, body) => {
    const path = rawPath.split(/[?#]/)[0] ?? rawPath
    const verb = method.toLowerCase()
    // HEAD is answered by every GET route with the GET's headers and no body
    const operationOf = (e: PathEntry) => {
      const name = verb === "head" && e.item.head === undefined ? "get" : verb
      return METHODS.has(name) && isObject(e.item[name]) ? { name, operation: e.item[name] as JsonObject } : undefined
    }
    // the router picks the route by path and method: the most literal path that has this method
    const entry = entries.find((e) => e.pattern.test(path) && operationOf(e) !== undefined)
    const found = entry === undefined ? undefined : operationOf(entry)
    if (entry === undefined || found === undefined) return checkUndocumented(method, path, status, contentType, body)
    const { name: operationName, operation } = found

    const responses = isObject(operation.responses) ? operation.responses : {}
    const declared = String(status) in responses ? String(status) : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : "default" in responses ? "default" : undefined
    if (declared === undefined) {
      return [`status ${status} is not declared for ${method.toUpperCase()} ${entry.template} (it declares ${Object.keys(responses).join(", ")})`]
    }
    const response = resolve(pointer("paths", entry.template, operationName, "responses", declared), responses[declared])
    const content = isObject(response.value.content) ? response.value.content : undefined
    const empty = body.length === 0
    if (content === undefined || Object.keys(content).length === 0) {
      return empty ? [] : [`${status} of ${method.toUpperCase()} ${entry.template} declares no body, but the response has ${body.length} characters (${contentType ?? "no content type"})`]
    }
    if (verb === "head") return []
    const declaredTypes = Object.keys(content)
    if (contentType === null) return [`${status} of ${method.toUpperCase()} ${entry.template} declares ${declaredTypes.join(" or ")}, but the response has no content type`]
    const actual = parseMediaType(contentType)
    const matched = declaredTypes.find((type) => covers(parseMediaType(type), actual))
    if (matched === undefined) return [`content type ${contentType} is not declared for ${status} of ${method.toUpperCase()} ${entry.template} (it declares ${declaredTypes.join(", ")})`]
    const media = content[matched]
    if (!isJson(actual) || !isObject(media) || media.schema === undefined) return []
    return validateJson(`${response.at}${pointer("content", matched, "schema")}`, body)
  }

  return { checkResponse }
}

/** The routes a process of `role` mounts (HttpApp.ts): a worker serves only the operations routes and Twilio's webhooks. */
const routesOf = (role: Role) => (role === "worker" ? [...operationRoutesContract, ...twilioRoutesContract] : allRoutes)

const checkers = new Map<Role, Conformance>()
/**
 * The checker over the app's own document (made once per test file), narrowed to the operations
 * a process of `role` serves: a worker's 404 for an admin route is its unknown-route problem.
 */
export const conformance = (role: Role = "all"): Conformance => {
  let checker = checkers.get(role)
  if (checker === undefined) {
    checker = makeConformance(makeDocument(routesOf(role), { serverUrl: "/" }) as JsonObject)
    checkers.set(role, checker)
  }
  return checker
}

/** The message of a violation: the exchange, each mismatch, and the start of the body. */
export const describeViolation = (method: string, path: string, status: number, contentType: string | null, body: string, problems: ReadonlyArray<string>) =>
  [
    `${method.toUpperCase()} ${path} -> ${status} ${contentType ?? ""} does not conform to the OpenAPI document:`,
    ...problems.map((p) => `  - ${p}`),
    `  body: ${body.length > 600 ? `${body.slice(0, 600)}...` : body}`
  ].join("\n")

/** The body as text, read from a clone; of an event stream (which does not end), only its first chunk. */
const bodyToCheck = async (response: Response): Promise<string> => {
  const copy = response.clone()
  if (!/^text\/event-stream\b/i.test(response.headers.get("content-type") ?? "") || copy.body === null) return copy.text()
  const reader = copy.body.getReader()
  const first = await reader.read()
  // not awaited: a clone's cancel settles only once the original is cancelled too (ReadableStream tee)
  reader.cancel().catch(() => undefined)
  return first.done ? "" : new TextDecoder().decode(first.value)
}

/** Throws a ConformanceError when the app's `response` to `method url` does not conform; reads a clone, so the caller still has the body. */
export const assertConforms = async (method: string, url: string, response: Response, checker: Conformance = conformance()): Promise<void> => {
  const body = await bodyToCheck(response)
  const path = new URL(url, "http://app.invalid").pathname
  const contentType = response.headers.get("content-type")
  const problems = checker.checkResponse(method, path, response.status, contentType, body)
  if (problems.length > 0) throw new ConformanceError(describeViolation(method, path, response.status, contentType, body, problems))
}

/** openapi-fetch middleware: checks every response the typed client receives. */
export const checkResponses = (checker: Conformance = conformance()): Middleware => ({
  onResponse: async ({ request, response }) => {
    await assertConforms(request.method, request.url, response, checker)
    return undefined
  }
})
