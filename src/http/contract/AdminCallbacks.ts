/**
 * The admin API of the callback platform (API.md "Admin"): businesses,
 * callback requests (the failed ones are the dead-letter view) with retry and
 * cancel, and stats. Behind the admin token.
 */
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Business, BusinessInput, CallbackRequest, E164, Hours, RingSeconds } from "../../../domain/callbacks/Business.ts"
import { CallbackFilterFields } from "../../../domain/callbacks/BulkCallbacks.ts"
import { CallbackStatus } from "../../../domain/callbacks/CallbackState.ts"
import { HistoryEvent } from "../../../domain/callbacks/History.ts"
import { Origin } from "../../../domain/callbacks/Keys.ts"
import { DEFAULT_RING_SECONDS } from "../../../domain/callbacks/EscalationPlan.ts"
import { isTimeZone } from "../../../domain/callbacks/OpeningHours.ts"
import { isPhoneCountry, normalizePhone } from "../../../infra/phone/PhoneNumbers.ts"
import { route } from "../Contract.ts"
import { CallbackView } from "./Callbacks.ts"
import { IdParams, Limit, Optional, Page, PlainText } from "./Fields.ts"

const MAX_LIMIT = 500

// --- businesses ---

export const PhoneText = PlainText(1, 64).annotations({ description: "any common format; read in `country` when it has no country code; stored in E.164" })

const Country = Schema.String.pipe(
  Schema.filter((c) => /^[A-Z]{2}$/.test(c) && isPhoneCountry(c), { message: () => "must be an ISO 3166 alpha-2 code such as US or DE" })
).annotations({ description: "ISO 3166 alpha-2; local numbers (the business's and its visitors') are read in it" })

const TimeZone = Schema.String.pipe(
  Schema.filter((tz) => tz.length >= 1 && tz.length <= 64 && isTimeZone(tz), { message: () => "must be an IANA time zone such as Europe/Berlin" })
).annotations({ description: "IANA time zone the opening hours are read in" })

/** A chain of numbers in calling order, each ringing `ringSeconds`; phones in any format. */
export const Chain = Schema.optionalWith(
  Schema.Array(Schema.Struct({ phone: PhoneText, ringSeconds: Schema.optionalWith(RingSeconds, { default: () => DEFAULT_RING_SECONDS }) })).pipe(
    Schema.maxItems(10, { message: () => "must be a list of at most 10 { phone, ringSeconds }" })
  ),
  { default: () => [] }
)

/** A business as an operator writes it: phones in any format, defaults filled in. */
const BusinessFields = Schema.Struct({
  name: PlainText(1, 200),
  phone: PhoneText,
  timezone: TimeZone,
  country: Optional(Country),
  hours: Optional(Hours),
  escalation: Chain,
  afterHours: Chain.annotations({ description: "called instead, in order, for a request verified while the business is closed (an on-call mobile); empty: it waits for the opening" }),
  ringSeconds: Schema.optionalWith(RingSeconds, { default: () => DEFAULT_RING_SECONDS }),
  maxConcurrentCalls: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 1000, { message: () => "must be an integer from 1 to 1000" })).annotations({ description: "calls to this business at once, across all processes" }),
    { default: () => 1 }
  ),
  vipPhones: Schema.optionalWith(Schema.Array(PhoneText).pipe(Schema.maxItems(1000, { message: () => "must be a list of at most 1000 phone numbers" })), { default: () => [] }),
  smsFallback: Schema.optionalWith(Schema.Boolean.annotations({ description: "text the visitor once when the callback finally fails" }), { default: () => true }),
  allowedOrigins: Schema.optionalWith(
    Schema.Array(Origin).pipe(Schema.maxItems(50, { message: () => "must be a list of at most 50 origins" })).annotations({
      description: "the exact origins whose web pages may call the public API for this business (CORS), e.g. https://shop.example"
    }),
    { default: () => [], exact: true }
  )
})

/**
 * The body of a create (and of a PATCH, merged onto the stored business):
 * every phone is read in the business's `country` and stored in E.164; each
 * one that is not a number is reported at its own path.
 */
export const BusinessBody = Schema.transformOrFail(BusinessFields, Schema.typeSchema(BusinessInput), {
  strict: true,
  decode: (fields, _, ast) => {
    const issues: Array<ParseResult.ParseIssue> = []
    const e164 = (value: string, path: readonly [PropertyKey, ...Array<PropertyKey>]): string => {
      const result = normalizePhone(value, fields.country)
      if (result._tag === "E164") return result.e164
      issues.push(new ParseResult.Pointer(path, fields, new ParseResult.Type(ast, value, "is not a valid phone number (use +<country code><number>)")))
      return value
    }
    const input: BusinessInput = {
      ...fields,
      phone: e164(fields.phone, ["phone"]),
      escalation: fields.escalation.map((step, i) => ({ phone: e164(step.phone, ["escalation", i, "phone"]), ringSeconds: step.ringSeconds })),
      afterHours: fields.afterHours.map((step, i) => ({ phone: e164(step.phone, ["afterHours", i, "phone"]), ringSeconds: step.ringSeconds })),
      vipPhones: [...new Set(fields.vipPhones.map((p, i) => e164(p, ["vipPhones", i])))]
    }
    const [first, ...rest] = issues
    return first === undefined ? ParseResult.succeed(input) : ParseResult.fail(new ParseResult.Composite(ast, fields, [first, ...rest]))
  },
  encode: (input) => ParseResult.succeed(input)
}).annotations({ identifier: "BusinessBody", description: "a business as written: phones in any format, read in `country`" })

/**
 * A PATCH names some fields; the rest keep their stored values, and the
 * merged business is decoded as a whole (`BusinessBody`). `null` clears
 * `country` and `hours`.
 */
export const BusinessPatch = Schema.partial(Schema.encodedSchema(BusinessFields)).annotations({ identifier: "BusinessPatch" })

/** A business as the admin API shows it. */
export const BusinessView = Business

export const BusinessPage = Page(BusinessView, "BusinessPage")

export const BusinessesQuery = Schema.Struct({
  limit: Limit(50, MAX_LIMIT),
  cursor: Schema.optional(Schema.UUID.annotations({ message: () => "is not a cursor this API returned", description: "`nextCursor` of the previous page" }))
})

// --- callbacks ---

/** A callback request as an operator sees it: with the visitor's phone, name and note. */
export const AdminCallbackView = Schema.Struct({
  ...CallbackView.fields,
  ...CallbackRequest.pick("phone", "name", "note", "department", "routes", "afterHours", "window").fields
}).annotations({ identifier: "AdminCallback" })

/** The last instant a cursor may name (the end of the year 9999), in microseconds. */
const LATEST_MICROS = BigInt(Date.UTC(9999, 11, 31, 23, 59, 59, 999)) * 1000n + 999n
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `<created, microseconds since the epoch>.<id>` of the last item shown, decoded into its two parts. */
const RequestCursor = Schema.transform(
  Schema.String.pipe(
    Schema.filter(
      (text) => {
        const match = /^(\d{1,18})\.([0-9a-f-]{36})$/i.exec(text)
        return match !== null && UUID.test(match[2] ?? "") && BigInt(match[1] ?? "0") <= LATEST_MICROS
      },
      { message: () => "is not a cursor this API returned" }
    )
  ).annotations({ description: "`nextCursor` of the previous page" }),
  Schema.Struct({ createdMicros: Schema.String, id: Schema.String }),
  {
    strict: true,
    decode: (text) => {
      const [createdMicros = "0", id = ""] = text.split(".")
      return { createdMicros, id }
    },
    encode: ({ createdMicros, id }) => `${createdMicros}.${id}`
  }
)

/** A visitor's phone in E.164 (the form requests store it in). */
const PhoneQuery = Schema.transformOrFail(Schema.String, E164, {
  strict: true,
  decode: (text, _, ast) =>
    Option.match(Option.liftPredicate(normalizePhone(text), (r) => r._tag === "E164"), {
      onNone: () => ParseResult.fail(new ParseResult.Type(ast, text, "must be a phone number in E.164 (+<country code><number>)")),
      onSome: (r) => ParseResult.succeed((r as { e164: string }).e164)
    }),
  encode: ParseResult.succeed
}).annotations({ description: "the visitor's number, E.164" })

export const CallbacksQuery = Schema.Struct({
  ...CallbackFilterFields,
  phone: Schema.optional(PhoneQuery),
  limit: Limit(50, MAX_LIMIT),
  cursor: Schema.optional(RequestCursor)
})

export const AdminCallbackPage = Page(AdminCallbackView, "AdminCallbackPage")

/** One request as an operator looks into it: the visitor's details, the attempts and the whole history. */
export const AdminCallbackDetail = Schema.Struct({ ...AdminCallbackView.fields, events: Schema.Array(HistoryEvent) }).annotations({ identifier: "AdminCallbackDetail" })

export const StatsView = Schema.Struct({
  callbacks: Schema.Record({ key: CallbackStatus, value: Schema.Int }).annotations({ description: "requests in each status now" }),
  last24h: Schema.Struct({ created: Schema.Int, completed: Schema.Int, failed: Schema.Int }),
  successRate: Schema.NullOr(Schema.Number).annotations({ description: "completed / (completed + failed) over the last 24 hours; null when none finished" })
}).annotations({ identifier: "Stats" })

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["admin-callbacks"]

export const createBusiness = route({
  method: "post",
  path: "/admin/api/businesses",
  operationId: "createBusiness",
  summary: "Create a business.",
  tags: ["businesses"],
  security: "admin",
  body: { schema: BusinessBody, excess: "error" },
  responses: { 201: { description: "Created", schema: BusinessView } },
  problems: ["validation", "malformed-body", "payload-too-large", ...admin]
})

export const listBusinesses = route({
  method: "get",
  path: "/admin/api/businesses",
  operationId: "listBusinesses",
  summary: "Businesses, by id.",
  tags: ["businesses"],
  security: "admin",
  query: BusinessesQuery,
  responses: { 200: { description: "A page of businesses", schema: BusinessPage } },
  problems: ["validation", ...admin]
})

export const getBusiness = route({
  method: "get",
  path: "/admin/api/businesses/{id}",
  operationId: "getBusiness",
  summary: "One business.",
  tags: ["businesses"],
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The business", schema: BusinessView } },
  problems: ["not-found", ...admin]
})

export const updateBusiness = route({
  method: "patch",
  path: "/admin/api/businesses/{id}",
  operationId: "updateBusiness",
  summary: "Change some fields of a business.",
  tags: ["businesses"],
  security: "admin",
  params: IdParams,
  body: { schema: BusinessPatch, excess: "error" },
  responses: { 200: { description: "The business", schema: BusinessView } },
  problems: ["validation", "malformed-body", "not-found", "payload-too-large", ...admin]
})

export const listCallbacks = route({
  method: "get",
  path: "/admin/api/callbacks",
  operationId: "listCallbacks",
  summary: "Callback requests, newest first (status=failed is the dead-letter view).",
  tags,
  security: "admin",
  query: CallbacksQuery,
  responses: { 200: { description: "A page of requests", schema: AdminCallbackPage } },
  problems: ["validation", ...admin]
})

export const getAdminCallback = route({
  method: "get",
  path: "/admin/api/callbacks/{id}",
  operationId: "getAdminCallback",
  summary: "One callback request with the visitor's details, its attempts and its history.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The request", schema: AdminCallbackDetail } },
  problems: ["not-found", ...admin]
})

export const retryCallback = route({
  method: "post",
  path: "/admin/api/callbacks/{id}/retry",
  operationId: "retryCallback",
  summary: "Failed or cancelled -> queued, from the business's own number again.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The request", schema: AdminCallbackView } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const cancelCallback = route({
  method: "post",
  path: "/admin/api/callbacks/{id}/cancel",
  operationId: "cancelCallback",
  summary: "Cancel an unfinished request.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The request", schema: AdminCallbackView } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const getStats = route({
  method: "get",
  path: "/admin/api/stats",
  operationId: "getStats",
  summary: "Requests by status, the last 24 hours, success rate.",
  tags,
  security: "admin",
  responses: { 200: { description: "Stats", schema: StatsView } },
  problems: [...admin]
})

export const adminCallbackRoutesContract = [
  createBusiness,
  listBusinesses,
  getBusiness,
  updateBusiness,
  listCallbacks,
  getAdminCallback,
  retryCallback,
  cancelCallback,
  getStats
]
