/** The businesses that take callbacks: create, change, find and list (the admin API's use cases). */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import type { Business, BusinessInput } from "../../domain/callbacks/Business.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { lookUp, orNotFound } from "../Failures.ts"

export const create = (input: BusinessInput) => Effect.flatMap(BusinessStore, (store) => store.create(randomUUID(), input))

/** The business, or `NotFound`. */
export const find = (id: string) => Effect.flatMap(BusinessStore, (store) => lookUp("business", id, store.find))

/**
 * Replaces a business's fields with `input`, which `merge` makes from the
 * stored business (a PATCH merges the fields it names onto it and validates
 * the whole).
 */
export const update = <E, R>(id: string, merge: (current: Business) => Effect.Effect<BusinessInput, E, R>) =>
  Effect.gen(function* () {
    const store = yield* BusinessStore
    const input = yield* merge(yield* find(id))
    return yield* store.update(id, input).pipe(Effect.flatMap(orNotFound("business", id)))
  })

/** Businesses by id after `cursor`, and the cursor of the next page when the page is full. */
export const list = (limit: number, cursor: string | undefined) =>
  Effect.map(
    Effect.flatMap(BusinessStore, (store) => store.list(limit, cursor)),
    (items) => ({ items, nextCursor: items.length === limit ? items[items.length - 1]?.id : undefined })
  )
