/**
 * How a Hono handler runs an Effect: `run(c, effect)` runs it on the
 * application's runtime, inside the request's server span and with the
 * request id on every log line, and turns its Exit into the response in one
 * place: success is the handler's Response, a known failure its problem
 * document (Problems.ts), anything else a logged 500.
 */
import type { Context as HonoContext } from "hono"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Tracer from "effect/Tracer"
import type { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import type { CallbackTables } from "../../infra/callbacks/CallbackTables.ts"
import type { ConsoleTables } from "../../infra/console/ConsoleTables.ts"
import type { BulkJobs } from "../../infra/jobs/BulkJobs.ts"
import type { EngineControls } from "../../infra/jobs/EngineControls.ts"
import type { JobStore } from "../../infra/jobs/JobStore.ts"
import type { Notifier } from "../../infra/jobs/Notifier.ts"
import type { Lifecycle } from "../../supervisors/Lifecycle.ts"
import type { LiveEvents } from "../callbacks/LiveEvents.ts"
import type { SqlConnection, Transaction } from "../../infra/db/Transaction.ts"
import type { ProcessRegistry } from "../../infra/jobs/ProcessRegistry.ts"
import type { Metrics } from "../../infra/observability/Metrics.ts"
import type { Telephony } from "../../infra/twilio/Telephony.ts"
import type { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import type { Principal } from "./Access.ts"
import { logFailure } from "./Outage.ts"
import { type Problem, problemOf, render } from "./Problems.ts"

/** The services handlers may use: the application's runtime provides them. */
export type HttpServices =
  | JobStore
  | ProcessRegistry
  | EngineControls
  | BulkJobs
  | SqlConnection
  | Transaction
  | Metrics
  | CallbackTables
  | ConsoleTables
  | CallbackConfig
  | TwilioGateway
  | Telephony
  | Notifier
  | Lifecycle
  | LiveEvents

/** What every request carries through the middleware chain. */
export interface HttpEnv {
  Variables: {
    readonly requestId: string
    readonly runtime: Runtime.Runtime<HttpServices>
    /** The request's server span; absent for probe routes, which are not traced. */
    readonly span: Tracer.Span | undefined
    /** The request's decoded parts, set by the validator (Validate.ts) for the route's handler. */
    readonly input: unknown
    /** Who calls the public API (Access.ts); absent without a credential. */
    readonly principal: Principal | undefined
  }
}

const respond = (problem: Problem, requestId: string | undefined): Response => {
  const { status, headers, body } = render(problem, requestId)
  return new Response(JSON.stringify(body), { status, headers })
}

/** A problem+json response for `error` (see Problems.ts). */
export const problemResponse = (c: HonoContext, error: unknown): Response => respond(problemOf(error), c.get("requestId"))

/**
 * Runs `effect` for the request (under its span, its logs annotated): its value, or, when it
 * fails, the failure logged (an internal error with its cause, a database outage once) and
 * turned into its problem response. For middleware, which goes on with a value; handlers use `run`.
 */
export const attempt = async <A, E>(c: HonoContext<HttpEnv>, effect: Effect.Effect<A, E, HttpServices>): Promise<{ readonly value: A } | { readonly response: Response }> => {
  const span = c.get("span")
  const program = effect.pipe(
    span === undefined ? (e) => e : Effect.withParentSpan(span),
    Effect.annotateLogs({ request_id: c.get("requestId"), route: `${c.req.method} ${c.req.path}` })
  )
  const exit = await Runtime.runPromiseExit(c.get("runtime"))(program)
  if (Exit.isSuccess(exit)) return { value: exit.value }
  const failure = Option.getOrElse(Cause.failureOption(exit.cause), () => Cause.squash(exit.cause))
  const problem = problemOf(failure)
  Runtime.runSync(c.get("runtime"))(logFailure(problem, failure, exit.cause).pipe(Effect.annotateLogs({ request_id: c.get("requestId") })))
  return { response: respond(problem, c.get("requestId")) }
}

export const run = <E>(c: HonoContext<HttpEnv>, effect: Effect.Effect<Response, E, HttpServices>): Promise<Response> =>
  attempt(c, effect).then((outcome) => ("value" in outcome ? outcome.value : outcome.response))

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } })
