/**
 * The route table's vocabulary: a route is data (method, path, operation id,
 * the schemas of its path parameters, query, headers and body, its responses
 * and the problems it may answer with). The same value drives three things:
 *
 * - the validator (Validate.ts), which decodes every part of a request
 *   through those schemas before the handler runs;
 * - the handler's types (`implement` hands it the decoded input);
 * - the OpenAPI document (OpenApi.ts), generated from the schemas.
 *
 * So a shape is written once, as an Effect Schema, and the contract cannot
 * drift from what the handlers accept and return.
 */
import type * as Schema from "effect/Schema"
import type { Slug } from "./Problems.ts"

export type Method = "get" | "post" | "put" | "patch" | "delete"

/**
 * Who may call: the admin token, the metrics token (only when one is set), a Twilio signature, a
 * business key of either kind or the admin token (`key`), a business's secret key, for that
 * business's own data (`secret`: the admin token has its own routes under `/admin/api`), or anyone.
 */
export type Security = "public" | "admin" | "metrics" | "twilio" | "key" | "secret"

/** A schema whose encoded side is what travels over HTTP. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the encoded side of a wire schema is any JSON
export type Wire<A> = Schema.Schema<A, any, never>

export interface ResponseSpec {
  readonly description: string
  /** The body's schema; absent for an empty body (204) or a body described by `contentType` alone. */
  readonly schema?: Schema.Schema.AnyNoContext | undefined
  /** `application/json` unless given. */
  readonly contentType?: string | undefined
  /** A body that is not JSON (TwiML, HTML, Prometheus text): described, not decoded. */
  readonly text?: boolean | undefined
  /** For an event stream: the schema of each event's data (in the document as `x-event-schema`, OpenAPI 3.1 has no field for it). */
  readonly events?: Schema.Schema.AnyNoContext | undefined
  readonly headers?: Readonly<Record<string, { readonly description: string }>> | undefined
}

export interface BodySpec<B> {
  readonly schema: Wire<B>
  /** `application/json` (the default) or Twilio's form encoding. */
  readonly contentType?: "application/json" | "application/x-www-form-urlencoded" | undefined
  /** Unknown members: refused with the rest of the errors (`error`) or dropped (`ignore`, the default). */
  readonly excess?: "error" | "ignore" | undefined
}

export interface Route<P = unknown, Q = unknown, H = unknown, B = unknown> {
  readonly method: Method
  /** OpenAPI form: `/v1/callbacks/{id}`. */
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly description?: string | undefined
  readonly tags: ReadonlyArray<string>
  readonly security?: Security | undefined
  readonly params?: Wire<P> | undefined
  readonly query?: Wire<Q> | undefined
  readonly headers?: Wire<H> | undefined
  readonly body?: BodySpec<B> | undefined
  readonly responses: Readonly<Record<number, ResponseSpec>>
  /** The problem types this route answers with besides its own responses (validation, not-found, ...). */
  readonly problems: ReadonlyArray<Slug>
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of routes of different shapes
export type AnyRoute = Route<any, any, any, any>

/** What a handler receives: every declared part, decoded. */
export interface Input<P, Q, H, B> {
  readonly params: P
  readonly query: Q
  readonly headers: H
  readonly body: B
}

/**
 * The public API's prefix. Its access middleware (Access.ts) reads a credential on every route under
 * it, so any of them answers 401 for a key that is unknown, revoked or malformed, and 403 to a page
 * from an origin its business does not allow, whatever the route itself needs.
 */
export const PUBLIC_API = "/v1/"

/** The problems a route answers with because of where it is mounted, besides its own. */
export const accessProblems = (route: AnyRoute): ReadonlyArray<Slug> => (route.path.startsWith(PUBLIC_API) ? ["unauthorized", "forbidden"] : [])

/** Declares a route; the identity, for inference. */
export const route = <P = unknown, Q = unknown, H = unknown, B = unknown>(spec: Route<P, Q, H, B>): Route<P, Q, H, B> => spec

/** `/v1/callbacks/{id}` -> `/v1/callbacks/:id` (Hono's form). */
export const honoPath = (path: string): string => path.replace(/\{([A-Za-z0-9_]+)\}/g, ":$1")
