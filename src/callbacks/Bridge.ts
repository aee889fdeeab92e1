/**
 * What happens when the business answers: Twilio asks the voice webhook what
 * to play, and only the request's current call, while it is being made,
 * connects the visitor. A call left over from before a cancel (or a cancel
 * and a retry) hears that the request is no longer active.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AttemptStore } from "../../infra/callbacks/AttemptStore.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { ourId } from "../Failures.ts"

export type Bridge =
  | { readonly _tag: "Inactive" }
  /** Announce the visitor (their name and note, when given), then dial them in from `callerId`. */
  | { readonly _tag: "Connect"; readonly name: string | undefined; readonly note: string | undefined; readonly visitor: string; readonly callerId: string }

/** The bridge for attempt `attemptId`; `NotFound` when the id cannot be one of ours. */
export const bridgeFor = (attemptId: string) =>
  Effect.gen(function* () {
    const attempt = yield* Effect.flatMap(ourId("call attempt", attemptId), (id) => Effect.flatMap(AttemptStore, (attempts) => attempts.find(id)))
    if (Option.isNone(attempt)) return { _tag: "Inactive" } satisfies Bridge as Bridge
    const request = yield* Effect.flatMap(RequestStore, (requests) => requests.find(attempt.value.callbackId))
    if (Option.isNone(request) || request.value.currentAttemptId !== attemptId || (request.value.status !== "dialing" && request.value.status !== "connected")) {
      return { _tag: "Inactive" } satisfies Bridge as Bridge
    }
    const gateway = yield* TwilioGateway
    return { _tag: "Connect", name: request.value.name, note: request.value.note, visitor: request.value.phone, callerId: gateway.from } satisfies Bridge as Bridge
  })
