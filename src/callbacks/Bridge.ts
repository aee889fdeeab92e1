/**
 * What a call hears, from its department's call flow (domain/callbacks/CallFlow.ts):
 *
 *   voice webhook   the agent answered: the announcement, then the menu (or the bridge)
 *   gather webhook  the agent pressed a key (or none): bridge; goodbye, the request going on
 *                   as if unanswered (declined); the menu once more; or a move to another
 *                   department (src/callbacks/Routing.ts) and goodbye
 *   visitor webhook the visitor picked up: what they hear before they are connected
 *
 * Only the request's current call, while it is being made, connects the
 * visitor; a call left over from before a cancel, a retry or a move hears that
 * the request is no longer active. The flow is the department's latest saved
 * version when the agent answers; the menu's and the visitor's URLs name that
 * version (`v`), so a key is read against the menu the agent heard even if the
 * flow was saved again in between.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { actionOf, agentTwiml, type CallContext, type CallFlow, choiceOf, defaultFlow, goodbyeTwiml, menuAnswerTwiml, routeRefusedTwiml, visitorTwiml } from "../../domain/callbacks/CallFlow.ts"
import { MAIN } from "../../domain/callbacks/Department.ts"
import { AttemptStore } from "../../infra/callbacks/AttemptStore.ts"
import { DepartmentStore } from "../../infra/callbacks/DepartmentStore.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { ourId } from "../Failures.ts"
import { declineRequest, routeRequest } from "./Routing.ts"

const INACTIVE = goodbyeTwiml("This callback request is no longer active. Goodbye.")

/** The call's request and flow, while the call is its request's current one being made. */
const liveCall = (attemptId: string, version: number | undefined) =>
  Effect.gen(function* () {
    const attempt = yield* Effect.flatMap(ourId("call attempt", attemptId), (id) => Effect.flatMap(AttemptStore, (attempts) => attempts.find(id)))
    if (Option.isNone(attempt)) return Option.none()
    const request = yield* Effect.flatMap(RequestStore, (requests) => requests.find(attempt.value.callbackId))
    if (Option.isNone(request) || request.value.currentAttemptId !== attemptId || (request.value.status !== "dialing" && request.value.status !== "connected")) {
      return Option.none()
    }
    const { businessId, department } = request.value
    const store = yield* DepartmentStore
    const saved = version === 0 ? Option.none() : yield* store.flow(businessId, department, version)
    const flow: CallFlow = Option.match(saved, { onNone: () => defaultFlow, onSome: (v) => v.flow })
    const topic = department === MAIN ? undefined : Option.getOrUndefined(yield* store.find(businessId, department))?.name
    const gateway = yield* TwilioGateway
    const base = yield* gateway.publicBaseUrl
    const played = Option.match(saved, { onNone: () => 0, onSome: (v) => v.version })
    const context = (repeats: number): CallContext => ({
      name: request.value.name ?? "a visitor",
      note: request.value.note,
      topic,
      visitor: request.value.phone,
      callerId: gateway.from,
      menuUrl: `${base}/twilio/gather/${attemptId}?v=${played}&r=${repeats}`,
      visitorUrl: flow.visitor === undefined ? undefined : `${base}/twilio/visitor/${attemptId}?v=${played}`
    })
    return Option.some({ request: request.value, flow, context })
  })

/** The voice webhook: what the agent hears on answering. */
export const answerTwiml = (attemptId: string) =>
  Effect.map(liveCall(attemptId, undefined), Option.match({ onNone: () => INACTIVE, onSome: ({ flow, context }) => agentTwiml(flow, context(0)) }))

/** The gather webhook: the answer to the agent's key, pressed in the menu of flow version `version`, heard `repeats` times again. */
export const keyTwiml = (attemptId: string, version: number, digits: string, repeats: number) =>
  Effect.gen(function* () {
    const call = yield* liveCall(attemptId, version)
    if (Option.isNone(call)) return INACTIVE
    const { request, flow, context } = call.value
    const choice = choiceOf(flow, digits)
    const action = actionOf(flow, digits)
    if (action === "decline") yield* declineRequest(request.id, attemptId)
    if (action === "route" && "department" in choice && choice.department !== undefined) {
      const outcome = yield* routeRequest(request.id, choice.department, "agent", attemptId)
      if (outcome._tag === "Refused") {
        yield* Effect.logInfo(`callback ${request.id}: the agent's move to ${choice.department} was refused: ${outcome.reason}`)
        return routeRefusedTwiml(flow, context(repeats + 1))
      }
    }
    return menuAnswerTwiml(flow, context(repeats + 1), digits, repeats)
  })

/** The visitor webhook: what the visitor hears before the bridge connects them. */
export const visitorGreetingTwiml = (attemptId: string, version: number) =>
  Effect.map(liveCall(attemptId, version), Option.match({ onNone: () => visitorTwiml(defaultFlow, {}), onSome: ({ flow, context }) => visitorTwiml(flow, context(0)) }))
