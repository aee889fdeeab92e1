/**
 * The one validator: every part of a request a route declares (path
 * parameters, query, headers, body) is decoded through its schema before the
 * handler runs, all errors at once, each with a JSON Pointer (RFC 6901) to
 * the offending member and where it was (`body`, `query`, `path`, `header`).
 * A body that is not JSON (or not an object) is a 400 `malformed-body`;
 * anything that decodes but breaks a rule is a 400 `validation`.
 *
 * `implement` mounts a route of the table on a router with this validator in
 * front, and hands the handler the decoded input; `reply` encodes a value
 * through the response's schema, so views are the schemas' encoded side.
 */
import type { Context as HonoContext, Hono, MiddlewareHandler } from "hono"
import { createMiddleware } from "hono/factory"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type AnyRoute, honoPath, type Input, type Route, type Wire } from "./Contract.ts"
import { type HttpEnv, type HttpServices, json, problemResponse, run } from "./Handler.ts"
import { type FieldError, type FieldLocation, validationFailed } from "../Failures.ts"
import { requirePrincipal } from "./Access.ts"
import { twilioSignature } from "./Middleware.ts"
import { MalformedBody, UnsupportedMediaType } from "./Problems.ts"

/** RFC 6901: `["escalation", 0, "phone"]` -> `/escalation/0/phone`. */
export const pointer = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((key) => "/" + String(key).replace(/~/g, "~0").replace(/\//g, "~1")).join("")

/** Decodes `input` through `schema`: the value, or every error found, located at `where`. */
export const decodeAll = <A>(
  schema: Wire<A>,
  input: unknown,
  where: FieldLocation,
  excess: "error" | "ignore" = "ignore"
): Either.Either<A, ReadonlyArray<FieldError>> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: excess })(input), (error) => {
    // one error per member: a value that fits no member of a union (`string | null`) is one mistake, told once;
    // and a member whose own members are wrong is told by them (an optional object's "Expected undefined" is noise)
    const byPath = new Map<string, FieldError>()
    for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
      const path = pointer(issue.path)
      if (!byPath.has(path)) byPath.set(path, { in: where, path, message: issue.message })
    }
    const paths = [...byPath.keys()]
    return [...byPath.values()].filter((e) => !paths.some((other) => other.startsWith(`${e.path}/`)))
  })

/** The media type of a Content-Type header (`application/json; charset=utf-8` -> `application/json`). */
const mediaType = (header: string | undefined): string | undefined => header?.split(";")[0]?.trim().toLowerCase()

/**
 * The body as the route's content type reads it, or why it cannot be read. A JSON route takes
 * only `application/json`: the types a plain HTML form can send (`text/plain`, form encodings)
 * are refused, so no page can post a body to this API without the browser's CORS check.
 */
const readBody = async (c: HonoContext, contentType: string): Promise<Either.Either<unknown, MalformedBody | UnsupportedMediaType>> => {
  let text: string
  try {
    text = await c.req.text()
  } catch {
    return Either.left(new MalformedBody({ detail: "the body could not be read" }))
  }
  const sent = mediaType(c.req.header("content-type"))
  if (contentType === "application/json" && sent !== "application/json" && !(sent === undefined && text.length === 0)) {
    return Either.left(new UnsupportedMediaType({ detail: `the body must be sent as Content-Type: application/json${sent === undefined ? "" : `, not ${sent}`}` }))
  }
  if (contentType === "application/x-www-form-urlencoded") {
    const params: Record<string, string> = {}
    for (const [name, value] of new URLSearchParams(text)) params[name] = value
    return Either.right(params)
  }
  let value: unknown
  try {
    value = text.trim() === "" ? {} : JSON.parse(text)
  } catch {
    return Either.left(new MalformedBody({ detail: "the body is not valid JSON" }))
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return Either.left(new MalformedBody({ detail: "the body must be a JSON object" }))
  return Either.right(value)
}

/** The declared headers only, by the names the schema gives them (case-insensitive on the wire). */
const headersOf = (c: HonoContext, schema: Schema.Schema.AnyNoContext): Record<string, string> => {
  const ast = Schema.encodedSchema(schema).ast
  const names = ast._tag === "TypeLiteral" ? ast.propertySignatures.map((p) => String(p.name)) : []
  const out: Record<string, string> = {}
  for (const name of names) {
    const value = c.req.header(name)
    if (value !== undefined) out[name] = value
  }
  return out
}

/** Middleware: decodes what `spec` declares into `c.var.input`, or answers the 400 itself. */
export const validate = (spec: AnyRoute) =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const errors: Array<FieldError> = []
    const input: Record<string, unknown> = { params: {}, query: {}, headers: {}, body: undefined }
    const take = (key: string, schema: Schema.Schema.AnyNoContext | undefined, value: unknown, where: FieldLocation, excess: "error" | "ignore" = "ignore") => {
      if (schema === undefined) return
      Either.match(decodeAll(schema, value, where, excess), { onLeft: (e) => errors.push(...e), onRight: (decoded) => (input[key] = decoded) })
    }
    take("params", spec.params, c.req.param(), "path")
    take("query", spec.query, c.req.query(), "query")
    if (spec.headers !== undefined) take("headers", spec.headers, headersOf(c, spec.headers), "header")
    if (spec.body !== undefined) {
      const body = await readBody(c, spec.body.contentType ?? "application/json")
      if (Either.isLeft(body)) return problemResponse(c, body.left)
      take("body", spec.body.schema, body.right, "body", spec.body.excess ?? "ignore")
    }
    if (errors.length > 0) return problemResponse(c, validationFailed(errors))
    c.set("input", input)
    await next()
  })

/**
 * Mounts `spec` on `router` (full paths: routers are mounted at `/`): the
 * route's own credentials check, which must answer before anything about the
 * request is judged (Twilio's signature when the route's `security` is
 * `twilio`, and the `before` middlewares), the validator, then
 * `handler` with the decoded input, run as one Effect.
 */
export const implement = <P, Q, H, B, E>(
  router: Hono<HttpEnv>,
  spec: Route<P, Q, H, B>,
  handler: (input: Input<P, Q, H, B>, c: HonoContext<HttpEnv>) => Effect.Effect<Response, E, HttpServices>,
  before: ReadonlyArray<MiddlewareHandler<HttpEnv>> = []
): void => {
  // a Twilio webhook's signature is the route's own credential: the contract says so, and it answers before anything else
  const credentials =
    spec.security === "twilio" ? [twilioSignature(), ...before] : spec.security === "key" || spec.security === "secret" ? [requirePrincipal(spec.security), ...before] : before
  for (const middleware of credentials) router.on(spec.method.toUpperCase(), honoPath(spec.path), middleware)
  router.on(spec.method.toUpperCase(), honoPath(spec.path), validate(spec), (c) => run(c, handler(c.get("input") as Input<P, Q, H, B>, c)))
}

/** A JSON response: `value` encoded through `schema` (a value the schema refuses is a bug: a logged 500). */
export const reply = <A>(schema: Wire<A>, value: A, status = 200, headers: Record<string, string> = {}): Effect.Effect<Response> =>
  Effect.map(Effect.orDie(Schema.encode(schema)(value)), (body) => json(body, status, headers))
