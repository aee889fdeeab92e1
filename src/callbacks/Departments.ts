/**
 * A business's departments and their call flows (the admin API's use cases),
 * and where a request's calls go (`targetFor`): the business's own chain for
 * `main`, a department's otherwise (domain/callbacks/Department.ts).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Business, CallbackRequest } from "../../domain/callbacks/Business.ts"
import { type CallFlow, defaultFlow, type FlowVersion } from "../../domain/callbacks/CallFlow.ts"
import { DepartmentKey, type DepartmentInput, MAIN, nextWindows, type Target, targetOf } from "../../domain/callbacks/Department.ts"
import { DepartmentStore } from "../../infra/callbacks/DepartmentStore.ts"
import { normalizePhone } from "../../infra/phone/PhoneNumbers.ts"
import { Conflict, type FieldError, NotFound, validationFailed, validationFailedAt } from "../Failures.ts"
import * as Businesses from "./Businesses.ts"

const notADepartment = (businessId: string, key: string) => new NotFound({ detail: `business ${businessId} has no department ${key}` })

/** The business's departments, by key. */
export const list = (businessId: string) =>
  Effect.flatMap(Businesses.find(businessId), (business) => Effect.flatMap(DepartmentStore, (store) => store.list(business.id)))

/** The business's department `key`, or `NotFound`: one read, for a business already found. */
const stored = (business: Business, key: string) =>
  Effect.flatMap(
    Effect.flatMap(DepartmentStore, (store) => store.find(business.id, key)),
    Option.match({ onNone: () => Effect.fail(notADepartment(business.id, key)), onSome: Effect.succeed })
  )

/** The department `key` of a business already found (none for `main`, the business itself), or `NotFound`. */
const departmentOf = (business: Business, key: string) => (key === MAIN ? Effect.succeed(undefined) : stored(business, key))

/** One department, or `NotFound`. */
export const find = (businessId: string, key: string) => Effect.flatMap(Businesses.find(businessId), (business) => stored(business, key))

interface Phones {
  readonly phone: string
  readonly escalation: ReadonlyArray<{ readonly phone: string; readonly ringSeconds: number }>
  readonly afterHours: ReadonlyArray<{ readonly phone: string; readonly ringSeconds: number }>
}

/** A department's phones read in `country` and written in E.164; each one that is not a number reported at its own path. */
export const readPhones = <A extends Phones>(input: A, country: string | undefined): Either.Either<A, ReadonlyArray<FieldError>> => {
  const errors: Array<FieldError> = []
  const e164 = (value: string, path: string): string => {
    const result = normalizePhone(value, country)
    if (result._tag === "E164") return result.e164
    errors.push({ in: "body", path, message: "is not a valid phone number (use +<country code><number>)" })
    return value
  }
  const chain = (steps: Phones["escalation"], name: string) => steps.map((step, i) => ({ phone: e164(step.phone, `/${name}/${i}/phone`), ringSeconds: step.ringSeconds }))
  const read: A = { ...input, phone: e164(input.phone, "/phone"), escalation: chain(input.escalation, "escalation"), afterHours: chain(input.afterHours, "afterHours") }
  return errors.length === 0 ? Either.right(read) : Either.left(errors)
}

/**
 * Creates the department or replaces its fields; `main` is the business itself, changed through the business.
 * Phones are read in the business's country and stored in E.164.
 */
export const put = (businessId: string, key: string, input: DepartmentInput) =>
  Effect.gen(function* () {
    if (key === MAIN) return yield* validationFailedAt("path", "/key", "main is the business's own department: change the business itself")
    if (!Schema.is(DepartmentKey)(key)) return yield* validationFailedAt("path", "/key", "must be 1 to 40 lower-case letters, digits and dashes")
    const business = yield* Businesses.find(businessId)
    const read = readPhones(input, business.country)
    if (Either.isLeft(read)) return yield* validationFailed(read.left)
    const normalized = read.right
    return yield* Effect.flatMap(DepartmentStore, (store) => store.put(business.id, key, normalized))
  })

/** Removes a department with no request in progress (409 otherwise: they would lose their chain mid-way). */
export const remove = (businessId: string, key: string) =>
  Effect.gen(function* () {
    const store = yield* DepartmentStore
    const department = yield* find(businessId, key)
    const active = yield* store.activeRequests(department.businessId, key)
    if (active > 0) return yield* new Conflict({ detail: `department ${key} has ${active} callback request(s) in progress; remove it once they have finished`, extra: { activeRequests: active } })
    if (!(yield* store.remove(department.businessId, key))) return yield* notADepartment(businessId, key)
  })

/** The flow a department plays: its latest saved version, or the default flow (version 0). */
export const currentFlow = (businessId: string, key: string) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    yield* departmentOf(business, key)
    const saved = yield* Effect.flatMap(DepartmentStore, (store) => store.flow(business.id, key))
    return Option.getOrElse(saved, (): FlowVersion => ({ department: key, version: 0, flow: defaultFlow, createdAt: undefined }))
  })

/** Every saved version of a department's flow, newest first. */
export const flowVersions = (businessId: string, key: string) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    yield* departmentOf(business, key)
    return yield* Effect.flatMap(DepartmentStore, (store) => store.flowVersions(business.id, key))
  })

/**
 * Saves a new version of a department's flow. A menu may only send the caller to a department the business
 * has (or `main`), and not to the department itself: each choice that does not is reported at its path.
 */
export const saveFlow = (businessId: string, key: string, flow: CallFlow) =>
  Effect.gen(function* () {
    const store = yield* DepartmentStore
    const business = yield* Businesses.find(businessId)
    // the business's departments, read once: the one the flow is for must be among them, and every route's target
    const known = new Set([MAIN, ...(yield* store.list(business.id)).map((d) => d.key)])
    if (!known.has(key)) return yield* notADepartment(business.id, key)
    const errors = (flow.menu?.choices ?? []).flatMap((choice, i) =>
      choice.department === undefined
        ? []
        : choice.department === key
          ? [{ in: "body" as const, path: `/menu/choices/${i}/department`, message: "is this department itself; a route sends the caller elsewhere" }]
          : known.has(choice.department)
            ? []
            : [{ in: "body" as const, path: `/menu/choices/${i}/department`, message: `is not a department of this business (${[...known].join(", ")})` }]
    )
    if (errors.length > 0) return yield* validationFailed(errors)
    return yield* store.saveFlow(business.id, key, flow)
  })

/**
 * Where the calls of a request with `department` go (its after-hours chain with `afterHours`). A department
 * removed meanwhile (only possible for a request that finished first, or in the instant of a race with its
 * removal) falls back to the business's own chain rather than leaving the request without one.
 */
export const targetFor = (
  business: Business,
  department: string,
  afterHours = false
): Effect.Effect<Target, Effect.Effect.Error<ReturnType<DepartmentStore["find"]>>, DepartmentStore> =>
  department === MAIN
    ? Effect.succeed(targetOf(business, undefined, afterHours))
    : Effect.gen(function* () {
        const found = yield* Effect.flatMap(DepartmentStore, (store) => store.find(business.id, department))
        if (Option.isSome(found)) return targetOf(business, found.value, afterHours)
        yield* Effect.logWarning(`department ${department} of business ${business.id} is gone; calling the business's own chain`)
        return targetOf(business, undefined, afterHours)
      })

/** A request's target as it stands: its department, on the after-hours chain when it was sent there. */
export const targetOfRequest = (business: Business, request: Pick<CallbackRequest, "department" | "afterHours">) => targetFor(business, request.department, request.afterHours)

/** The next open windows of the business, or of `topic`'s department, for a visitor choosing a time. */
export const availability = (businessId: string, topic: string | undefined) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    const target = targetOf(business, yield* departmentOf(business, topic ?? MAIN))
    return { timezone: business.timezone, windows: nextWindows(target, new Date(yield* Clock.currentTimeMillis)) }
  })
