/** A business's API keys (the admin API's use cases). */
import * as Effect from "effect/Effect"
import type { KeyKind } from "../../domain/callbacks/Keys.ts"
import { BusinessKeys } from "../../infra/callbacks/BusinessKeys.ts"
import { lookUp } from "../Failures.ts"
import * as Businesses from "./Businesses.ts"

/** A new key for the business (`NotFound` without it): the key, shown once, and its listing. */
export const issue = (businessId: string, kind: KeyKind, label: string | undefined) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    const issued = yield* Effect.flatMap(BusinessKeys, (keys) => keys.issue(business.id, kind, label))
    return { ...issued.view, key: issued.key }
  })

export const list = (businessId: string) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    return yield* Effect.flatMap(BusinessKeys, (keys) => keys.list(business.id))
  })

export const revoke = (keyId: string, afterSeconds: number) => Effect.flatMap(BusinessKeys, (keys) => lookUp("key", keyId, (id) => keys.revoke(id, afterSeconds)))
