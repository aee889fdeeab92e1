/**
 * The admin API of the callback platform (API.md "Admin"): businesses,
 * callback requests (the failed ones are the dead-letter view) with retry and
 * cancel, and stats. Mounted under `/admin/api` behind the admin token.
 */
import { SqlClient } from "@effect/sql"
import type { Context as HonoContext } from "hono"
import { Hono } from "hono"
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Business } from "../../../domain/callbacks/Business.ts"
import { type CallbackStatus, CallbackStatuses, isCallbackStatus } from "../../../domain/callbacks/CallbackState.ts"
import { DEFAULT_RING_SECONDS } from "../../../domain/callbacks/EscalationPlan.ts"
import { isTimeZone, parseHours } from "../../../domain/callbacks/OpeningHours.ts"
import { type BusinessInput, CallbackStore } from "../../../infra/callbacks/CallbackStore.ts"
import { isPhoneCountry, normalizePhone } from "../../../infra/phone/PhoneNumbers.ts"
import { enqueueDial } from "../../callbacks/Settlement.ts"
import { found, type HttpEnv, json, readJson, run, validated } from "../Handler.ts"
import { Conflict, type FieldError, NotFound, ValidationFailed } from "../Problems.ts"
import { isUuid, requestView, textField } from "./Callbacks.ts"

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 500
const MAX_ESCALATION = 10
const MAX_VIP = 1000
const RING = { min: 5, max: 120 }
/** The last instant a cursor may name (the end of the year 9999), in microseconds. */
const LATEST_MICROS = BigInt(Date.UTC(9999, 11, 31, 23, 59, 59, 999)) * 1000n + 999n

export const businessView = (b: Business) => ({
  id: b.id,
  name: b.name,
  phone: b.phone,
  timezone: b.timezone,
  country: b.country ?? null,
  hours: b.hours ?? null,
  escalation: b.escalation,
  ringSeconds: b.ringSeconds,
  maxConcurrentCalls: b.maxConcurrentCalls,
  vipPhones: b.vipPhones,
  smsFallback: b.smsFallback,
  createdAt: b.createdAt.toISOString(),
  updatedAt: b.updatedAt.toISOString()
})

const KNOWN = new Set(["name", "phone", "timezone", "country", "hours", "escalation", "ringSeconds", "maxConcurrentCalls", "vipPhones", "smsFallback"])

const integerIn = (value: unknown, min: number, max: number): value is number => typeof value === "number" && Number.isInteger(value) && value >= min && value <= max

/** A business from a full body (create) or the stored business with a patch applied; every problem reported. */
const businessInput = (body: Record<string, unknown>): Either.Either<BusinessInput, ReadonlyArray<FieldError>> => {
  const errors: Array<FieldError> = []
  for (const key of Object.keys(body)) if (!KNOWN.has(key)) errors.push({ path: key, message: "is not a field of a business" })
  const name = textField(body, "name", errors, { required: true, max: 200, min: 1 })
  let country: string | undefined
  if (body.country !== undefined && body.country !== null) {
    if (typeof body.country !== "string" || !/^[A-Z]{2}$/.test(body.country) || !isPhoneCountry(body.country)) {
      errors.push({ path: "country", message: "must be an ISO 3166 alpha-2 code such as US or DE" })
    } else country = body.country
  }
  const phoneOf = (value: unknown, path: string): string => {
    if (typeof value !== "string") {
      errors.push({ path, message: "must be a phone number string" })
      return ""
    }
    const result = normalizePhone(value, country)
    if (result._tag !== "E164") errors.push({ path, message: "is not a valid phone number (use +<country code><number>)" })
    return result._tag === "E164" ? result.e164 : ""
  }
  const phone = body.phone === undefined ? (errors.push({ path: "phone", message: "is required" }), "") : phoneOf(body.phone, "phone")
  const timezone = textField(body, "timezone", errors, { required: true, max: 64, min: 1 })
  if (timezone !== undefined && !isTimeZone(timezone)) errors.push({ path: "timezone", message: "must be an IANA time zone such as Europe/Berlin" })
  let hours: BusinessInput["hours"]
  if (body.hours !== undefined && body.hours !== null) {
    const parsed = parseHours(body.hours)
    if (Either.isLeft(parsed)) errors.push(...parsed.left.map((e) => ({ path: e.path === "" ? "hours" : `hours.${e.path}`, message: e.message })))
    else if (Object.values(parsed.right).every((intervals) => intervals.length === 0)) errors.push({ path: "hours", message: "must open at least once a week (leave hours out for always open)" })
    else hours = body.hours as BusinessInput["hours"]
  }
  const escalation: Array<{ phone: string; ringSeconds: number }> = []
  if (body.escalation !== undefined) {
    if (!Array.isArray(body.escalation) || body.escalation.length > MAX_ESCALATION) {
      errors.push({ path: "escalation", message: `must be a list of at most ${MAX_ESCALATION} { phone, ringSeconds }` })
    } else {
      body.escalation.forEach((step: unknown, i) => {
        const s = step as { phone?: unknown; ringSeconds?: unknown } | null
        if (typeof s !== "object" || s === null || Array.isArray(s)) return errors.push({ path: `escalation.${i}`, message: "must be { phone, ringSeconds }" })
        const ring = s.ringSeconds ?? DEFAULT_RING_SECONDS
        if (!integerIn(ring, RING.min, RING.max)) errors.push({ path: `escalation.${i}.ringSeconds`, message: `must be an integer from ${RING.min} to ${RING.max}` })
        escalation.push({ phone: phoneOf(s.phone, `escalation.${i}.phone`), ringSeconds: Number(ring) })
      })
    }
  }
  const ringSeconds = body.ringSeconds ?? DEFAULT_RING_SECONDS
  if (!integerIn(ringSeconds, RING.min, RING.max)) errors.push({ path: "ringSeconds", message: `must be an integer from ${RING.min} to ${RING.max}` })
  const maxConcurrentCalls = body.maxConcurrentCalls ?? 1
  if (!integerIn(maxConcurrentCalls, 1, 1000)) errors.push({ path: "maxConcurrentCalls", message: "must be an integer from 1 to 1000" })
  const vipPhones: Array<string> = []
  if (body.vipPhones !== undefined) {
    if (!Array.isArray(body.vipPhones) || body.vipPhones.length > MAX_VIP) errors.push({ path: "vipPhones", message: `must be a list of at most ${MAX_VIP} phone numbers` })
    else body.vipPhones.forEach((p: unknown, i) => vipPhones.push(phoneOf(p, `vipPhones.${i}`)))
  }
  const smsFallback = body.smsFallback ?? true
  if (typeof smsFallback !== "boolean") errors.push({ path: "smsFallback", message: "must be true or false" })
  if (errors.length > 0) return Either.left(errors)
  return Either.right({
    name: name ?? "",
    phone,
    timezone: timezone ?? "UTC",
    country,
    hours,
    escalation,
    ringSeconds: Number(ringSeconds),
    maxConcurrentCalls: Number(maxConcurrentCalls),
    vipPhones: [...new Set(vipPhones)],
    smsFallback: smsFallback === true
  })
}

const validBusiness = (body: Record<string, unknown>) =>
  Either.match(businessInput(body), {
    onLeft: (errors) => Effect.fail(new ValidationFailed({ detail: errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors })),
    onRight: Effect.succeed
  })

const uuidOr404 = (what: string, id: string) => (isUuid(id) ? Effect.succeed(id) : Effect.fail(new NotFound({ detail: `no ${what} ${id}` })))

const limitOf = (text: string | undefined, errors: Array<FieldError>): number => {
  if (text === undefined) return DEFAULT_LIMIT
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) errors.push({ path: "limit", message: `must be an integer from 1 to ${MAX_LIMIT}` })
  return Number(text)
}

/** Cursors are `<created, microseconds since the epoch>.<id>` of the last item shown. */
const cursorOf = (text: string | undefined, errors: Array<FieldError>) => {
  if (text === undefined) return undefined
  const match = /^(\d{1,18})\.([0-9a-f-]{36})$/i.exec(text)
  if (match === null || !isUuid(match[2] ?? "") || BigInt(match[1] ?? "0") > LATEST_MICROS) {
    errors.push({ path: "cursor", message: "is not a cursor this API returned" })
    return undefined
  }
  return { createdMicros: match[1] ?? "0", id: match[2] ?? "" }
}

export const adminCallbackRoutes = () => {
  const router = new Hono<HttpEnv>()

  router.post("/businesses", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const input = yield* validBusiness(yield* readJson(c))
        const store = yield* CallbackStore
        return json(businessView(yield* store.createBusiness(randomUUID(), input)), 201)
      })
    )
  )

  router.get("/businesses", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const errors: Array<FieldError> = []
        const limit = limitOf(c.req.query("limit"), errors)
        const cursor = c.req.query("cursor")
        if (cursor !== undefined && !isUuid(cursor)) errors.push({ path: "cursor", message: "is not a cursor this API returned" })
        yield* validated(undefined, errors)
        const items = yield* Effect.flatMap(CallbackStore, (s) => s.listBusinesses(limit, cursor))
        const last = items.length === limit ? items[items.length - 1] : undefined
        return json({ items: items.map(businessView), ...(last === undefined ? {} : { nextCursor: last.id }) })
      })
    )
  )

  router.get("/businesses/:id", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const id = yield* uuidOr404("business", c.req.param("id"))
        const business = yield* Effect.flatMap(CallbackStore, (s) => s.findBusiness(id)).pipe(Effect.flatMap(found("business", id)))
        return json(businessView(business))
      })
    )
  )

  router.patch("/businesses/:id", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const id = yield* uuidOr404("business", c.req.param("id"))
        const patch = yield* readJson(c)
        const store = yield* CallbackStore
        const current = yield* store.findBusiness(id).pipe(Effect.flatMap(found("business", id)))
        const { id: _id, createdAt: _c, updatedAt: _u, ...stored } = businessView(current)
        const input = yield* validBusiness({ ...stored, ...patch })
        const updated = yield* store.updateBusiness(id, input).pipe(Effect.flatMap(found("business", id)))
        return json(businessView(updated))
      })
    )
  )

  router.get("/callbacks", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const errors: Array<FieldError> = []
        const { status, businessId, phone } = c.req.query()
        if (status !== undefined && !isCallbackStatus(status)) errors.push({ path: "status", message: `must be one of ${CallbackStatuses.join(", ")}` })
        if (businessId !== undefined && !isUuid(businessId)) errors.push({ path: "businessId", message: "must be a business id" })
        let e164: string | undefined
        if (phone !== undefined) {
          const normalized = normalizePhone(phone)
          if (normalized._tag === "E164") e164 = normalized.e164
          else errors.push({ path: "phone", message: "must be a phone number in E.164 (+<country code><number>)" })
        }
        const limit = limitOf(c.req.query("limit"), errors)
        const before = cursorOf(c.req.query("cursor"), errors)
        yield* validated(undefined, errors)
        const store = yield* CallbackStore
        const items = yield* store.listRequests({ status: status as CallbackStatus | undefined, businessId, phone: e164, before, limit })
        const views = yield* Effect.forEach(items, ({ request: r }) =>
          Effect.map(store.attemptsOf(r.id), (attempts) => ({ ...requestView(r, attempts), phone: r.phone, name: r.name ?? null, note: r.note ?? null }))
        )
        const last = items.length === limit ? items[items.length - 1] : undefined
        return json({ items: views, ...(last === undefined ? {} : { nextCursor: last.cursor }) })
      })
    )
  )

  const change = (event: "adminRetry" | "cancel") => (c: HonoContext<HttpEnv>) =>
    run(
      c,
      Effect.gen(function* () {
        const id = yield* uuidOr404("callback request", c.req.param("id") ?? "")
        const store = yield* CallbackStore
        const sql = yield* SqlClient.SqlClient
        const updated = yield* sql.withTransaction(
          Effect.gen(function* () {
            const request = yield* store.lockRequest(id).pipe(Effect.flatMap(found("callback request", id)))
            if (event === "adminRetry") {
              // a request cancelled before its phone was verified must not be called: the visitor asks again
              const verification = yield* store.lockVerification(id)
              if (Option.isNone(verification) || verification.value.used_at === null) {
                return yield* new Conflict({ detail: "this request was never verified; the visitor must ask for a new callback", extra: { id, callbackStatus: request.status } })
              }
            }
            const moved = yield* store
              .applyEvent(
                id,
                event,
                event === "adminRetry" ? { bumpGeneration: true, escalationLevel: 0, attemptOnNumber: 0, currentAttemptId: null, nextAttemptAt: null, scheduledFor: null } : {}
              )
              .pipe(
                // the visitor has another active request for this business meanwhile (the one-active-request index)
                Effect.catchIf(
                  (e) => e.code === "23505",
                  () => new Conflict({ detail: "the visitor has another active request for this business", extra: { id, callbackStatus: request.status } })
                )
              )
            if (Option.isNone(moved)) {
              return yield* new Conflict({ detail: `a ${request.status} callback request cannot be ${event === "cancel" ? "cancelled" : "retried"}`, extra: { id, callbackStatus: request.status } })
            }
            if (event === "adminRetry") {
              const business = yield* store.findBusiness(request.businessId).pipe(Effect.flatMap(found("business", request.businessId)))
              yield* enqueueDial(moved.value, business)
            }
            return moved.value
          })
        )
        return json(requestView(updated, yield* store.attemptsOf(id)))
      })
    )

  router.post("/callbacks/:id/retry", change("adminRetry"))
  router.post("/callbacks/:id/cancel", change("cancel"))

  router.get("/stats", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const store = yield* CallbackStore
        const counts = yield* store.countByStatus
        const [last] = yield* store.last24h
        const callbacks = Object.fromEntries(CallbackStatuses.map((s) => [s, counts.find((x) => x.status === s)?.n ?? 0]))
        const created = last?.created ?? 0
        const completed = last?.completed ?? 0
        const failed = last?.failed ?? 0
        return json({ callbacks, last24h: { created, completed, failed }, successRate: completed + failed === 0 ? null : completed / (completed + failed) })
      })
    )
  )

  return router
}
