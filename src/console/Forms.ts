/**
 * The console's forms as codecs of the admin API's bodies: a form is flat text
 * fields (one line each, or a textarea of lines), the API's body is JSON. Each
 * codec is a `Schema.transform` from the form's fields to the API's own body
 * schema, so a form is validated by exactly the rules the API applies, its
 * errors come at the API's paths, and the same codec run backwards fills a
 * form from what is stored (the edit page shows the business as it is).
 */
import * as Schema from "effect/Schema"
import type { Business } from "../../domain/callbacks/Business.ts"
import type { Department } from "../../domain/callbacks/Department.ts"
import { type HistoryEventType, HistoryEventTypes } from "../../domain/callbacks/History.ts"
import { DEFAULT_RING_SECONDS } from "../../domain/callbacks/EscalationPlan.ts"
import { Weekdays } from "../../domain/callbacks/OpeningHours.ts"
import type { FieldError } from "../Failures.ts"
import { BusinessPatch } from "../http/contract/AdminCallbacks.ts"
import { IssueKeyBody, RevokeKeyBody } from "../http/contract/Keys.ts"
import { WebhookEndpointBody, WebhookEndpointPatch } from "../http/contract/AdminWebhooks.ts"

/** A form as the browser sends it: every field is text. */
export type FormFields = Readonly<Record<string, string>>

const Fields = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * A form for `body`: `read` makes the body's encoded side from the fields, `write` the fields from it.
 * Not strict: a field that is not text of the right kind is passed on as it is, for `body` to say so.
 */
const formFor = <A, I>(body: Schema.Schema<A, I>, read: (fields: FormFields) => I, write: (body: I) => FormFields) =>
  Schema.transform(Fields, body, { strict: true, decode: read, encode: write })

/** The non-empty lines of a textarea (and, with `commas`, its comma-separated items), trimmed. */
const lines = (text: string | undefined, commas = false): Array<string> =>
  (text ?? "")
    .split(commas ? /\r?\n|,/ : /\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")

/**
 * A number field: its number, or absent when empty (the API's default applies). Text that is not a whole number
 * is NaN, which the API's own rule for the field refuses, together with every other field's error.
 */
const numberField = (text: string | undefined): number | undefined => {
  const trimmed = (text ?? "").trim()
  return trimmed === "" ? undefined : /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN
}

const checked = (value: string | undefined): boolean => value !== undefined && value !== "" && value !== "off"

/** Opening hours of one day as text: `09:00-12:00, 13:00-17:00`. */
const dayText = (intervals: ReadonlyArray<readonly [string, string]> | undefined): string => (intervals ?? []).map(([open, close]) => `${open}-${close}`).join(", ")

const dayIntervals = (text: string): Array<readonly [string, string]> =>
  lines(text, true).map((piece) => {
    const [open = "", close = ""] = piece.split(/\s*[-–]\s*/)
    return [open, close] as const
  })

/** An escalation step as a line: `+4930123456, 25` (the ring seconds may be left out). */
const stepText = (step: { readonly phone: string; readonly ringSeconds?: number | undefined }): string => (step.ringSeconds === undefined ? step.phone : `${step.phone}, ${step.ringSeconds}`)

const stepOf = (line: string): { phone: string; ringSeconds?: number } => {
  const comma = line.lastIndexOf(",")
  if (comma === -1) return { phone: line }
  const ringSeconds = numberField(line.slice(comma + 1))
  return ringSeconds === undefined ? { phone: line.slice(0, comma).trim() } : { phone: line.slice(0, comma).trim(), ringSeconds }
}

/** The opening hours of a form (`hours.mon` .. `hours.sun`): the days with intervals, or undefined when every day is empty. */
const hoursOf = (fields: FormFields) => {
  const open = Weekdays.map((day) => [day, dayIntervals(fields[`hours.${day}`] ?? "")] as const).filter(([, intervals]) => intervals.length > 0)
  return open.length === 0 ? undefined : Object.fromEntries(open)
}

/** The form's `hours.<day>` fields of opening hours (every day empty when there are none). */
const hoursFields = (hours: Readonly<Partial<Record<(typeof Weekdays)[number], ReadonlyArray<readonly [string, string]>>>> | null | undefined): FormFields =>
  Object.fromEntries(Weekdays.map((day) => [`hours.${day}`, dayText(hours?.[day])]))

type BusinessFields = typeof BusinessPatch.Type

/**
 * A business's settings form: every field of a business (so it makes a whole create body, or a PATCH that names
 * every field); hours as one field per day (`hours.mon`: `09:00-17:00`; every day empty: always open), the
 * escalation and after-hours chains one step per line, VIP phones and origins one per line.
 */
export const BusinessForm = formFor(
  BusinessPatch,
  (fields): BusinessFields => {
    const hours = hoursOf(fields)
    const country = (fields["country"] ?? "").trim().toUpperCase()
    const ringSeconds = numberField(fields["ringSeconds"])
    const maxConcurrentCalls = numberField(fields["maxConcurrentCalls"])
    return {
      name: (fields["name"] ?? "").trim(),
      phone: (fields["phone"] ?? "").trim(),
      timezone: (fields["timezone"] ?? "").trim(),
      country: country === "" ? null : country,
      hours: hours === undefined ? null : (hours as BusinessFields["hours"]),
      escalation: lines(fields["escalation"]).map(stepOf),
      afterHours: lines(fields["afterHours"]).map(stepOf),
      ...(ringSeconds === undefined ? {} : { ringSeconds }),
      ...(maxConcurrentCalls === undefined ? {} : { maxConcurrentCalls }),
      vipPhones: lines(fields["vipPhones"], true),
      smsFallback: checked(fields["smsFallback"]),
      allowedOrigins: lines(fields["allowedOrigins"], true)
    }
  },
  (business) => ({
    name: business.name ?? "",
    phone: business.phone ?? "",
    timezone: business.timezone ?? "",
    country: business.country ?? "",
    ...hoursFields(business.hours),
    escalation: (business.escalation ?? []).map(stepText).join("\n"),
    afterHours: (business.afterHours ?? []).map(stepText).join("\n"),
    ringSeconds: business.ringSeconds === undefined ? "" : String(business.ringSeconds),
    maxConcurrentCalls: business.maxConcurrentCalls === undefined ? "" : String(business.maxConcurrentCalls),
    vipPhones: (business.vipPhones ?? []).join("\n"),
    allowedOrigins: (business.allowedOrigins ?? []).join("\n"),
    ...(business.smsFallback === false ? {} : { smsFallback: "on" })
  })
)

/** The form's fields for a stored business (the edit page's starting values). */
export const businessFields = (business: Business): FormFields => {
  const { id: _id, createdAt: _c, updatedAt: _u, ...settings } = business
  return Schema.encodeSync(BusinessForm)(settings as BusinessFields)
}

/** The form of a new business: the API's defaults. */
export const NEW_BUSINESS: FormFields = { ringSeconds: String(DEFAULT_RING_SECONDS), maxConcurrentCalls: "1", smsFallback: "on" }

/**
 * A department as its form is read, before the page checks it: the admin API's PUT body (DepartmentBody) with
 * its key, phones as typed. The page reads the phones in the business's country, as a business's are, and then
 * applies every rule of the API's body at once (pages/Departments.tsx), so this schema only shapes the fields.
 */
export const DepartmentDraft = Schema.Struct({
  key: Schema.String,
  name: Schema.String,
  phone: Schema.String,
  ringSeconds: Schema.optional(Schema.Number),
  escalation: Schema.Array(Schema.Struct({ phone: Schema.String, ringSeconds: Schema.Number })),
  afterHours: Schema.Array(Schema.Struct({ phone: Schema.String, ringSeconds: Schema.Number })),
  hours: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.Tuple(Schema.String, Schema.String)) })),
  maxConcurrentCalls: Schema.optional(Schema.Number)
})
export type DepartmentDraft = typeof DepartmentDraft.Type

/**
 * A department's form: key (only when it is new: a department's key does not change), name, phone, ring seconds,
 * the escalation and after-hours chains one step per line (a step without its ring seconds rings the default),
 * calls at once, and hours one field per day as a business's (every day empty: the business's hours).
 */
export const DepartmentForm = formFor(
  DepartmentDraft,
  (fields): DepartmentDraft => {
    const hours = hoursOf(fields)
    const ringSeconds = numberField(fields["ringSeconds"])
    const maxConcurrentCalls = numberField(fields["maxConcurrentCalls"])
    return {
      key: (fields["key"] ?? "").trim(),
      name: (fields["name"] ?? "").trim(),
      phone: (fields["phone"] ?? "").trim(),
      ...(ringSeconds === undefined ? {} : { ringSeconds }),
      escalation: lines(fields["escalation"]).map((line) => ({ ringSeconds: DEFAULT_RING_SECONDS, ...stepOf(line) })),
      afterHours: lines(fields["afterHours"]).map((line) => ({ ringSeconds: DEFAULT_RING_SECONDS, ...stepOf(line) })),
      ...(hours === undefined ? {} : { hours }),
      ...(maxConcurrentCalls === undefined ? {} : { maxConcurrentCalls })
    }
  },
  (department) => ({
    key: department.key,
    name: department.name,
    phone: department.phone,
    ringSeconds: department.ringSeconds === undefined ? "" : String(department.ringSeconds),
    escalation: department.escalation.map(stepText).join("\n"),
    afterHours: department.afterHours.map(stepText).join("\n"),
    maxConcurrentCalls: department.maxConcurrentCalls === undefined ? "" : String(department.maxConcurrentCalls),
    ...hoursFields(department.hours)
  })
)

/** The form's fields for a stored department (its page's starting values). */
export const departmentFields = (department: Department): FormFields =>
  Schema.encodeSync(DepartmentForm)({
    key: department.key,
    name: department.name,
    phone: department.phone,
    ringSeconds: department.ringSeconds,
    escalation: department.escalation,
    afterHours: department.afterHours,
    maxConcurrentCalls: department.maxConcurrentCalls,
    ...(department.hours === undefined ? {} : { hours: department.hours as DepartmentDraft["hours"] })
  })

/** The form of a new department: the API's defaults. */
export const NEW_DEPARTMENT: FormFields = { ringSeconds: String(DEFAULT_RING_SECONDS), maxConcurrentCalls: "1" }

const optionalText = (text: string | undefined): string | undefined => {
  const trimmed = (text ?? "").trim()
  return trimmed === "" ? undefined : trimmed
}

export const IssueKeyForm = formFor(
  IssueKeyBody,
  (fields) => ({ kind: (fields["kind"] ?? "") as typeof IssueKeyBody.Encoded.kind, label: optionalText(fields["label"]) }),
  (body) => ({ kind: body.kind, label: body.label ?? "" })
)

export const RevokeKeyForm = formFor(
  RevokeKeyBody,
  (fields) => ({ afterSeconds: numberField(fields["afterSeconds"]) }),
  (body) => ({ afterSeconds: body.afterSeconds === undefined ? "" : String(body.afterSeconds) })
)

/** The event types an endpoint form offers, one checkbox each (`event.<type>`); none ticked: every type. */
const eventTypesOf = (fields: FormFields) => HistoryEventTypes.filter((type) => checked(fields[`event.${type}`]))
const eventFields = (types: ReadonlyArray<string> | undefined): FormFields => Object.fromEntries((types ?? []).map((type) => [`event.${type}`, "on"]))

export const NewEndpointForm = formFor(
  WebhookEndpointBody,
  (fields) => ({ url: (fields["url"] ?? "").trim(), eventTypes: eventTypesOf(fields), description: optionalText(fields["description"]) ?? null }),
  (body) => ({ url: body.url, description: body.description ?? "", ...eventFields(body.eventTypes) })
)

export const EndpointForm = formFor(
  WebhookEndpointPatch,
  (fields) => ({ url: (fields["url"] ?? "").trim(), eventTypes: eventTypesOf(fields), description: optionalText(fields["description"]) ?? null, enabled: checked(fields["enabled"]) }),
  (body) => ({ url: body.url ?? "", description: body.description ?? "", ...eventFields(body.eventTypes), ...(body.enabled === false ? {} : { enabled: "on" }) })
)

/** The form's fields for a stored endpoint. */
export const endpointFields = (endpoint: { readonly url: string; readonly eventTypes: ReadonlyArray<HistoryEventType>; readonly description?: string | undefined; readonly enabled: boolean }): FormFields =>
  Schema.encodeSync(EndpointForm)({ url: endpoint.url, eventTypes: endpoint.eventTypes, description: endpoint.description ?? null, enabled: endpoint.enabled })

/**
 * The form field an error of the API's body belongs to, and the message as that field shows it:
 * `/hours/mon/0/1` is `hours.mon`'s first interval, `/escalation/2/phone` the third line of `escalation`.
 */
export const fieldOf = (error: FieldError): { readonly field: string; readonly message: string } => {
  const [first = "", second, third] = error.path.split("/").slice(1)
  const numbered = second !== undefined && /^\d+$/.test(second)
  if (first === "hours") {
    if (second !== undefined && (Weekdays as ReadonlyArray<string>).includes(second)) {
      return { field: `hours.${second}`, message: third === undefined ? error.message : `interval ${Number(third) + 1}: ${error.message}` }
    }
    return { field: "hours", message: error.message }
  }
  if (numbered && (first === "escalation" || first === "afterHours" || first === "vipPhones" || first === "allowedOrigins")) return { field: first, message: `line ${Number(second) + 1}: ${error.message}` }
  return { field: first, message: error.message }
}
