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
  | SqlConnection
  | Transaction
  | Metrics
  | CallbackTables
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

export const run = <E>(c: HonoContext<HttpEnv>, effect: Effect.Effect<Response, E, HttpServices>): Promise<Response> => {
  const span = c.get("span")
  const program = effect.pipe(
    span === undefined ? (e) => e : Effect.withParentSpan(span),
    Effect.annotateLogs({ request_id: c.get("requestId"), route: `${c.req.method} ${c.req.path}` })
  )
  return Runtime.runPromiseExit(c.get("runtime"))(program).then((exit) =>
    Exit.match(exit, {
      onSuccess: (response) => response,
      onFailure: (cause) => {
        const failure = Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))
        const problem = problemOf(failure)
        // an internal error with its cause; a database outage once (Outage.ts); the rest not at all
        Runtime.runSync(c.get("runtime"))(logFailure(problem, failure, cause).pipe(Effect.annotateLogs({ request_id: c.get("requestId") })))
        return respond(problem, c.get("requestId"))
      }
    })
  )
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } })
