/**
 * The demo page's business (development only): "Demo business", always open,
 * its phone a simulator number, with one department, "Sales", open on
 * weekdays 09:00-17:00 UTC (so the widget offers a topic and windows to
 * choose). The first visit to `/demo` of any process creates them under a
 * fixed id (so every process and every restart finds the same one) and
 * allows the page's own origin; each process issues its own
 * publishable key at its first visit and keeps the raw key in memory only
 * (a key is shown once), issuing another when that one stops resolving
 * (a revoked key, a fresh database).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Business, BusinessInput } from "../../../domain/callbacks/Business.ts"
import type { DepartmentInput } from "../../../domain/callbacks/Department.ts"
import { DEFAULT_RING_SECONDS } from "../../../domain/callbacks/EscalationPlan.ts"
import { BusinessKeys } from "../../../infra/callbacks/BusinessKeys.ts"
import { BusinessStore } from "../../../infra/callbacks/BusinessStore.ts"
import { DepartmentStore } from "../../../infra/callbacks/DepartmentStore.ts"

export const DEMO_BUSINESS_ID = "00000000-0000-4000-8000-00000000de30"

const demoInput = (origins: ReadonlyArray<string>): BusinessInput => ({
  name: "Demo business",
  phone: "+15005550006",
  timezone: "UTC",
  country: "US",
  escalation: [],
  afterHours: [],
  ringSeconds: DEFAULT_RING_SECONDS,
  maxConcurrentCalls: 2,
  vipPhones: [],
  smsFallback: true,
  allowedOrigins: origins
})

const OFFICE_HOURS = [["09:00", "17:00"]] as const

const DEMO_DEPARTMENT: DepartmentInput = {
  name: "Sales",
  phone: "+15005550006",
  ringSeconds: DEFAULT_RING_SECONDS,
  escalation: [],
  hours: { mon: OFFICE_HOURS, tue: OFFICE_HOURS, wed: OFFICE_HOURS, thu: OFFICE_HOURS, fri: OFFICE_HOURS },
  afterHours: [],
  maxConcurrentCalls: 1
}

/** The demo's department, created when missing (a business made before it had one, or a fresh database). */
const ensureDepartment = Effect.gen(function* () {
  const store = yield* DepartmentStore
  if (Option.isNone(yield* store.find(DEMO_BUSINESS_ID, "sales"))) yield* store.put(DEMO_BUSINESS_ID, "sales", DEMO_DEPARTMENT)
})

/** `business`, with `origin` added to its allowed origins when missing. */
const allowing = (business: Business, origin: string) =>
  Effect.gen(function* () {
    if (business.allowedOrigins.includes(origin)) return business
    const { id: _id, createdAt: _created, updatedAt: _updated, ...input } = business
    const updated = yield* Effect.flatMap(BusinessStore, (store) => store.update(DEMO_BUSINESS_ID, { ...input, allowedOrigins: [...business.allowedOrigins, origin] }))
    return Option.getOrElse(updated, () => business)
  })

/** The demo business with `origin` among its allowed origins: found, or created. */
const ensureBusiness = (origin: string) =>
  Effect.gen(function* () {
    const store = yield* BusinessStore
    const found = yield* store.find(DEMO_BUSINESS_ID)
    if (Option.isSome(found)) return yield* allowing(found.value, origin)
    const created = yield* Effect.either(store.create(DEMO_BUSINESS_ID, demoInput([origin])))
    if (Either.isRight(created)) return created.right
    // another process created it at the same moment: use theirs
    const theirs = yield* store.find(DEMO_BUSINESS_ID)
    return Option.isSome(theirs) ? yield* allowing(theirs.value, origin) : yield* Effect.fail(created.left)
  })

/** Keeps this process's demo key; `demo(origin)` answers the business and a publishable key that works now. */
export const demoKeeper = () => {
  let key: string | undefined
  const lock = Effect.unsafeMakeSemaphore(1)
  return (origin: string) =>
    lock.withPermits(1)(
      Effect.gen(function* () {
        const business = yield* ensureBusiness(origin)
        yield* ensureDepartment
        const keys = yield* BusinessKeys
        if (key === undefined || Option.isNone(yield* keys.resolve(key))) {
          key = (yield* keys.issue(DEMO_BUSINESS_ID, "publishable", "the /demo page (development)")).key
        }
        return { business, key }
      })
    )
}
