/**
 * The visitor-facing API (API.md "Public"): create a callback request, verify
 * the phone with the texted code, ask for a new code, and follow the request.
 *
 * Every write runs in one transaction: validation, the business lookup, the
 * rate limits, the insert and the jobs it enqueues commit together or not at
 * all, so a refused request counts toward no limit and leaves nothing behind.
 */
import { SqlClient } from "@effect/sql"
import type { Context as HonoContext } from "hono"
import { Hono } from "hono"
import { randomUUID } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type Business, type CallAttempt, type CallbackRequest, priorityFor } from "../../../domain/callbacks/Business.ts"
import { VerificationSend } from "../../../domain/callbacks/Jobs.ts"
import { check, expiresAt, mayResend } from "../../../domain/callbacks/Verification.ts"
import { CallbackConfig, type RateLimit, verificationPolicyOf } from "../../../infra/callbacks/CallbackConfig.ts"
import { CallbackStore } from "../../../infra/callbacks/CallbackStore.ts"
import { hashCode } from "../../../infra/callbacks/Codes.ts"
import { hashBody, remember, reserve } from "../../../infra/callbacks/Idempotency.ts"
import { hit } from "../../../infra/callbacks/RateLimiter.ts"
import { remoteAddress } from "../../../infra/http/Listener.ts"
import { enqueue } from "../../../infra/jobs/Jobs.ts"
import { Metrics } from "../../../infra/observability/Metrics.ts"
import { currentTraceparent } from "../../../infra/observability/TraceContext.ts"
import { TraceExport } from "../../../infra/observability/Tracing.ts"
import { normalizePhone } from "../../../infra/phone/PhoneNumbers.ts"
import { closedUntil } from "../../callbacks/Dialer.ts"
import { enqueueDial } from "../../callbacks/Settlement.ts"
import { type HttpEnv, json, readJson, run, validated } from "../Handler.ts"
import { Conflict, type FieldError, Gone, NotFound, RateLimited, Unprocessable, WrongCode } from "../Problems.ts"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export const isUuid = (value: string): boolean => UUID.test(value)

/** Text that is storable and printable enough: no control characters besides tab and newlines. */
const plainText = (value: string): boolean => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value) && (value as string & { isWellFormed(): boolean }).isWellFormed()

/** A string field: its value, or an error at `path`. */
export const textField = (
  body: Record<string, unknown>,
  path: string,
  errors: Array<FieldError>,
  options: { readonly required: boolean; readonly max: number; readonly min?: number }
): string | undefined => {
  const value = body[path]
  if (value === undefined || value === null) {
    if (options.required) errors.push({ path, message: "is required" })
    return undefined
  }
  if (typeof value !== "string") {
    errors.push({ path, message: "must be a string" })
    return undefined
  }
  if (value.length < (options.min ?? 0) || value.length > options.max || !plainText(value)) {
    errors.push({ path, message: `must be ${options.min ?? 0} to ${options.max} characters of text without control characters` })
    return undefined
  }
  return value
}

/** The client's address: the socket's, or with TRUST_PROXY hops, the one that many hops back in X-Forwarded-For. */
export const clientIp = (c: HonoContext<HttpEnv>, trustProxy: number): string => {
  const socket = remoteAddress(c.env) ?? "unknown"
  if (trustProxy === 0) return socket
  const forwarded = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const hops = [...forwarded, socket]
  return hops[Math.max(0, hops.length - 1 - trustProxy)] ?? socket
}

const seconds = (d: Duration.Duration) => Math.max(1, Math.ceil(Duration.toSeconds(d)))

/** Checks and records one event against `limit`; a 429 when the bucket is full. */
export const limited = (bucket: string, limit: RateLimit, what: string) =>
  Effect.flatMap(hit(bucket, limit), (decision) =>
    decision.allowed
      ? Effect.void
      : Effect.fail(new RateLimited({ detail: `too many ${what}; at most ${limit.limit} per ${Duration.format(limit.window)}`, retryAfterSeconds: seconds(decision.retryAfter) }))
  )

export const attemptView = (attempt: CallAttempt) => ({
  n: attempt.n,
  to: attempt.to,
  status: attempt.status,
  level: attempt.level,
  startedAt: attempt.startedAt.toISOString(),
  ...(attempt.endedAt === undefined ? {} : { endedAt: attempt.endedAt.toISOString() }),
  ...(attempt.error === undefined ? {} : { error: attempt.error })
})

export const requestView = (request: CallbackRequest, attempts: ReadonlyArray<CallAttempt>) => ({
  id: request.id,
  businessId: request.businessId,
  status: request.status,
  priority: request.priority,
  escalationLevel: request.escalationLevel,
  ...(request.nextAttemptAt === undefined ? {} : { nextAttemptAt: request.nextAttemptAt.toISOString() }),
  ...(request.scheduledFor === undefined ? {} : { scheduledFor: request.scheduledFor.toISOString() }),
  attempts: attempts.map(attemptView),
  createdAt: request.createdAt.toISOString(),
  updatedAt: request.updatedAt.toISOString(),
  ...(request.finishedAt === undefined ? {} : { finishedAt: request.finishedAt.toISOString() })
})

const findBusiness = (id: string) =>
  Effect.flatMap(CallbackStore, (store) => (isUuid(id) ? store.findBusiness(id) : Effect.succeed(Option.none<Business>()))).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotFound({ detail: `no business ${id}` })), onSome: Effect.succeed }))
  )

const lockRequest = (id: string) =>
  Effect.flatMap(CallbackStore, (store) => (isUuid(id) ? store.lockRequest(id) : Effect.succeed(Option.none<CallbackRequest>()))).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotFound({ detail: `no callback request ${id}` })), onSome: Effect.succeed }))
  )

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/

/** Why a request that is not awaiting verification refuses a verification step. */
const notPending = (request: CallbackRequest) =>
  request.status === "expired"
    ? new Gone({ detail: "this request expired before it was verified; create a new one" })
    : new Conflict({ detail: request.status === "cancelled" ? "this request was cancelled" : "this request is already verified", extra: { id: request.id, callbackStatus: request.status } })

export const callbackRoutes = () => {
  const router = new Hono<HttpEnv>()

  router.post("/v1/callbacks", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const body = yield* readJson(c)
        const key = c.req.header("idempotency-key")
        const errors: Array<FieldError> = []
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) errors.push({ path: "Idempotency-Key", message: "must be 1 to 200 visible ASCII characters" })
        const businessId = textField(body, "businessId", errors, { required: true, max: 100, min: 1 })
        const phone = textField(body, "phone", errors, { required: true, max: 64, min: 1 })
        const name = textField(body, "name", errors, { required: false, max: 100 })
        const note = textField(body, "note", errors, { required: false, max: 500 })
        yield* validated(undefined, errors)
        const sql = yield* SqlClient.SqlClient
        const store = yield* CallbackStore
        const settings = yield* CallbackConfig
        const { exporting } = yield* TraceExport
        const traceparent = exporting ? yield* currentTraceparent : undefined
        const ip = clientIp(c, settings.trustProxy)
        const outcome = yield* sql.withTransaction(
          Effect.gen(function* () {
            if (key !== undefined) {
              // the fields this route reads, nothing else: unknown fields are ignored, so they cannot make two bodies differ
              const reservation = yield* reserve(`create:${key}`, hashBody({ businessId, phone, name, note }))
              if (reservation._tag === "Mismatch") return yield* new Unprocessable({ detail: "this Idempotency-Key was used with a different body within 24 hours" })
              if (reservation._tag === "Replay") return { status: reservation.status, body: reservation.body, replay: true }
            }
            const business = yield* findBusiness(businessId ?? "")
            const normalized = normalizePhone(phone ?? "", business.country, true)
            if (normalized._tag !== "E164") {
              const message =
                normalized._tag === "NotMobile" ? "must be a mobile number that can receive a text message" : "is not a valid phone number (use +<country code><number>)"
              yield* validated(undefined, [{ path: "phone", message }])
            }
            const e164 = normalized._tag === "E164" ? normalized.e164 : ""
            const created = yield* store.createRequest({
              id: randomUUID(),
              businessId: business.id,
              phone: e164,
              name,
              note,
              priority: priorityFor(business, e164),
              traceparent
            })
            if (created._tag === "Active") {
              return yield* new Conflict({ detail: "an active callback request for this phone and business exists", extra: { id: created.id } })
            }
            yield* enqueue(VerificationSend, { callbackId: created.request.id }, { traceparent })
            // the limits last: each holds its bucket's lock until this transaction ends, so the
            // requests of one client (or of every client behind one proxy) wait for each other only
            // this long; a refusal rolls the request and its job back, and nothing counts
            yield* limited(`create:phone:${e164}`, settings.createPerPhone, "callback requests for this phone")
            yield* limited(`create:ip:${ip}`, settings.createPerIp, "callback requests from this address")
            const response = {
              id: created.request.id,
              status: created.request.status,
              verification: { channel: "sms", expiresAt: expiresAt({ issuedAt: created.request.createdAt }, verificationPolicyOf(settings)).toISOString() }
            }
            if (key !== undefined) yield* remember(`create:${key}`, 202, response)
            return { status: 202, body: response, replay: false }
          })
        )
        return json(outcome.body, outcome.status, outcome.replay ? { "Idempotent-Replayed": "true" } : {})
      })
    )
  )

  router.post("/v1/callbacks/:id/verification", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const id = c.req.param("id")
        const body = yield* readJson(c)
        const errors: Array<FieldError> = []
        // any text is an attempt (a wrong one uses a check); only a missing or non-string code is malformed
        const code = textField(body, "code", errors, { required: true, max: 100 })
        yield* validated(undefined, errors)
        const sql = yield* SqlClient.SqlClient
        const store = yield* CallbackStore
        const metrics = yield* Metrics
        const settings = yield* CallbackConfig
        const policy = verificationPolicyOf(settings)
        yield* limited(`verify:ip:${clientIp(c, settings.trustProxy)}`, settings.verifyPerIp, "verification attempts from this address")
        const result = yield* sql.withTransaction(
          Effect.gen(function* () {
            const request = yield* lockRequest(id)
            if (request.status !== "pending_verification") return yield* notPending(request)
            const verification = yield* store.lockVerification(request.id)
            if (Option.isNone(verification)) return yield* new Gone({ detail: "no code was issued for this request" })
            const v = verification.value
            // hashed with the stored id, whatever case the URL gave it in
            const entered = /^\d{6}$/.test((code ?? "").trim()) ? hashCode(request.id, (code ?? "").trim()) : "not-a-code"
            const outcome = check(
              { codeHash: v.code_hash ?? "no-code-yet", issuedAt: v.issued_at, checks: v.checks, usedAt: v.used_at ?? undefined },
              entered,
              new Date(),
              policy
            )
            if (outcome._tag === "Gone") {
              metrics.verificationChecks.inc({ result: outcome.reason === "out_of_attempts" ? "exhausted" : outcome.reason })
              return { _tag: "Gone" as const, reason: outcome.reason }
            }
            if (outcome._tag === "WrongCode") {
              yield* store.countCheck(request.id)
              metrics.verificationChecks.inc({ result: "wrong" })
              return { _tag: "Wrong" as const, attemptsRemaining: outcome.attemptsRemaining }
            }
            metrics.verificationChecks.inc({ result: "verified" })
            yield* store.markVerified(request.id)
            const business = yield* findBusiness(request.businessId)
            const hours = closedUntil(business, new Date())
            const scheduledFor = hours.closed && hours.opensAt !== undefined ? hours.opensAt : new Date()
            const queued = yield* store.applyEvent(request.id, "verify", { scheduledFor })
            if (Option.isNone(queued)) return yield* notPending(request)
            yield* enqueueDial(queued.value, business, hours.closed ? scheduledFor : undefined)
            return { _tag: "Verified" as const, request: queued.value, scheduledFor }
          })
        )
        switch (result._tag) {
          case "Gone":
            return yield* new Gone({
              detail: result.reason === "expired" ? "the code expired; ask for a new one" : result.reason === "used" ? "the code was already used" : "too many wrong codes; ask for a new one",
              extra: { reason: result.reason }
            })
          case "Wrong":
            return yield* new WrongCode({ detail: "the code does not match", attemptsRemaining: result.attemptsRemaining })
          case "Verified":
            return json({ id: result.request.id, status: result.request.status, scheduledFor: result.scheduledFor.toISOString() })
        }
      })
    )
  )

  router.post("/v1/callbacks/:id/verification/resend", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const id = c.req.param("id")
        const sql = yield* SqlClient.SqlClient
        const store = yield* CallbackStore
        const settings = yield* CallbackConfig
        const policy = verificationPolicyOf(settings)
        yield* limited(`verify:ip:${clientIp(c, settings.trustProxy)}`, settings.verifyPerIp, "verification attempts from this address")
        const issued = yield* sql.withTransaction(
          Effect.gen(function* () {
            const request = yield* lockRequest(id)
            if (request.status !== "pending_verification") return yield* notPending(request)
            const verification = yield* store.lockVerification(request.id)
            const decision = mayResend(Option.match(verification, { onNone: () => [], onSome: (v) => v.sends }), new Date(), policy)
            if (!decision.allowed) {
              return yield* new RateLimited({
                detail: `at most ${policy.maxSends} codes per ${Duration.format(policy.sendWindow)} for one request`,
                retryAfterSeconds: seconds(decision.retryAfter)
              })
            }
            const issuedAt = yield* store.reissue(request.id)
            yield* enqueue(VerificationSend, { callbackId: request.id }, { traceparent: request.traceparent })
            return { request, issuedAt }
          })
        )
        return json(
          { id: issued.request.id, status: issued.request.status, verification: { channel: "sms", expiresAt: expiresAt({ issuedAt: issued.issuedAt }, policy).toISOString() } },
          202
        )
      })
    )
  )

  router.get("/v1/callbacks/:id", (c) =>
    run(
      c,
      Effect.gen(function* () {
        const id = c.req.param("id")
        const store = yield* CallbackStore
        const request = yield* (isUuid(id) ? store.findRequest(id) : Effect.succeed(Option.none<CallbackRequest>()))
        if (Option.isNone(request)) return yield* new NotFound({ detail: `no callback request ${id}` })
        return json(requestView(request.value, yield* store.attemptsOf(id)))
      })
    )
  )

  return router
}
