/**
 * Mid-call routing: while a request's call is in progress, the answering
 * agent (the flow's keypad menu) or an operator (the console, the admin API)
 * sends the request to another department.
 *
 *   dialing | connected --route--> escalated --dial--> dialing   (the new department's chain, from its first number)
 *
 * In one transaction under the request's lock: the move is checked against
 * the bound and the business's departments (domain/callbacks/Department.ts
 * `decideRoute`), the request leaves its current call (`currentAttemptId`
 * cleared, so that call's last reports change nothing about it), starts the
 * new chain with its attempts counted afresh (the visitor's retry budget is
 * not spent by being sent on), the history records the move, and the new
 * department's first dial is enqueued under its own concurrency key.
 *
 * The call itself ends after the commit: the agent's by the TwiML that
 * answers their key (it hangs up), an operator's through Twilio
 * (`calls(sid).update`). Its slot is given back when its final report
 * arrives, as for any call; if ending it fails, the agent may still be on the
 * line, the request has moved all the same and the call's watcher settles it.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { decideRoute, MAX_ROUTES, refusalText, targetOf, whenToCall } from "../../domain/callbacks/Department.ts"
import { afterUnanswered, planOf } from "../../domain/callbacks/EscalationPlan.ts"
import { AttemptStore } from "../../infra/callbacks/AttemptStore.ts"
import { CallbackConfig, retryPolicyOf } from "../../infra/callbacks/CallbackConfig.ts"
import { DepartmentStore } from "../../infra/callbacks/DepartmentStore.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { inTransaction } from "../../infra/db/Transaction.ts"
import { Telephony } from "../../infra/twilio/Telephony.ts"
import { Conflict, lookUp } from "../Failures.ts"
import * as Businesses from "./Businesses.ts"
import { targetOfRequest } from "./Departments.ts"
import * as Requests from "./Requests.ts"
import { enqueueDial, moveOn } from "./Settlement.ts"

export type RouteOutcome =
  | { readonly _tag: "Moved"; readonly callSid: string | undefined }
  | { readonly _tag: "Refused"; readonly reason: string }

/**
 * Moves request `callbackId` to department `to`. `attemptId`: the call the move was asked from (the agent's);
 * a move asked from a call that is no longer the request's current one is refused.
 */
export const routeRequest = (callbackId: string, to: string, by: "agent" | "operator", attemptId?: string) =>
  inTransaction(
    Effect.gen(function* () {
      const requests = yield* RequestStore
      const request = yield* lookUp("callback request", callbackId, requests.lock)
      if (request.status !== "dialing" && request.status !== "connected") {
        return { _tag: "Refused", reason: `a ${request.status} request has no call in progress to move` } satisfies RouteOutcome as RouteOutcome
      }
      const current = request.currentAttemptId
      if (attemptId !== undefined && current !== attemptId) return { _tag: "Refused", reason: "this call is no longer the request's current one" } as RouteOutcome
      const departments = yield* Effect.flatMap(DepartmentStore, (store) => store.list(request.businessId))
      const decision = decideRoute(request.department, request.routes, to, departments.map((d) => d.key))
      if (decision._tag === "Refuse") return { _tag: "Refused", reason: refusalText(decision.reason, to, MAX_ROUTES) } as RouteOutcome
      const business = yield* Businesses.find(request.businessId)
      // a department closed now takes the request on its after-hours chain when it has one (its dial waits for the opening otherwise)
      const destination = departments.find((d) => d.key === decision.to)
      const afterHours = whenToCall(targetOf(business, destination), new Date(yield* Clock.currentTimeMillis))._tag === "AfterHours"
      const moved = yield* requests.applyEvent(
        request.id,
        "route",
        { department: decision.to, afterHours, escalationLevel: 0, attemptOnNumber: 0, currentAttemptId: null, nextAttemptAt: null },
        current === undefined ? {} : { currentAttempt: current },
        { from: request.department, by, ...(current === undefined ? {} : { attemptId: current }) }
      )
      if (Option.isNone(moved)) return { _tag: "Refused", reason: "the request changed meanwhile" } as RouteOutcome
      // the routes so far name the dial: a second move to a department must not meet the first's finished dial
      yield* enqueueDial(moved.value, targetOf(business, destination, afterHours), undefined, `route:${decision.routes}`)
      const attempt = current === undefined ? Option.none() : yield* Effect.flatMap(AttemptStore, (attempts) => attempts.find(current))
      return { _tag: "Moved", callSid: Option.getOrUndefined(attempt)?.callSid } as RouteOutcome
    })
  ).pipe(Effect.withSpan("callback.route", { attributes: { "callback.id": callbackId, "route.to": to, "route.by": by } }))

/**
 * An operator moves a request whose call is in progress: 409 when it may not move (no call in progress, the
 * bound reached, the department unknown or its own); the call is ended through Twilio after the move.
 */
export const operatorRoute = (callbackId: string, to: string) =>
  Effect.gen(function* () {
    const outcome = yield* routeRequest(callbackId, to, "operator")
    if (outcome._tag === "Refused") return yield* new Conflict({ detail: outcome.reason, extra: { id: callbackId } })
    if (outcome.callSid !== undefined) {
      const telephony = yield* Telephony
      yield* telephony.endCall(outcome.callSid).pipe(
        Effect.catchAll((error) => Effect.logWarning(`callback ${callbackId} moved to ${to}, but its call ${outcome.callSid} could not be ended now; its watcher settles it`, error))
      )
    }
    return yield* Requests.show(callbackId)
  })

/**
 * The answering agent declined (the menu's `decline`, or no key with `noInput: decline`): the request goes on as
 * if this number had not answered (a retry after the policy's delay, the next number, or failed with the SMS
 * fallback), its history marking the move `declined`. Only for the request's current call; whether it moved.
 */
export const declineRequest = (callbackId: string, attemptId: string) =>
  inTransaction(
    Effect.gen(function* () {
      const request = yield* lookUp("callback request", callbackId, (id) => Effect.flatMap(RequestStore, (requests) => requests.lock(id)))
      if ((request.status !== "dialing" && request.status !== "connected") || request.currentAttemptId !== attemptId) return false
      const business = yield* Businesses.find(request.businessId)
      const target = yield* targetOfRequest(business, request)
      const step = afterUnanswered({ level: request.escalationLevel, attemptOnNumber: request.attemptOnNumber }, planOf(target).length, retryPolicyOf(yield* CallbackConfig))
      return Option.isSome(yield* moveOn(request, step, target, business.smsFallback, { declined: true, attemptId }))
    })
  ).pipe(Effect.withSpan("callback.decline", { attributes: { "callback.id": callbackId, "attempt.id": attemptId } }))
