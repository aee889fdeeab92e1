/**
 * A business's departments and their call flows (admin API), and an
 * operator's move of a request to another department during its call.
 * Shapes come from the domain: Department (domain/callbacks/Department.ts)
 * and CallFlow (domain/callbacks/CallFlow.ts).
 */
import * as Schema from "effect/Schema"
import { Hours, RingSeconds } from "../../../domain/callbacks/Business.ts"
import { CallFlow, FlowVersion } from "../../../domain/callbacks/CallFlow.ts"
import { Department, DepartmentKey } from "../../../domain/callbacks/Department.ts"
import { DEFAULT_RING_SECONDS } from "../../../domain/callbacks/EscalationPlan.ts"
import { Timestamp } from "../../../domain/Timestamp.ts"
import { route } from "../Contract.ts"
import { AdminCallbackView, Chain, PhoneText } from "./AdminCallbacks.ts"
import { IdParams, PlainText } from "./Fields.ts"

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["departments"]

/** A department as an operator writes it (phones in any format, read in the business's country); what is left out takes its default. */
export const DepartmentBody = Schema.Struct({
  name: PlainText(1, 100).annotations({ description: "what visitors see as the topic, and what {topic} says in the announcement" }),
  phone: PhoneText,
  ringSeconds: Schema.optionalWith(RingSeconds, { default: () => DEFAULT_RING_SECONDS }),
  escalation: Chain,
  hours: Schema.optional(Hours.annotations({ description: "its own opening hours; absent: the business's" })),
  afterHours: Chain.annotations({ description: "called instead, in order, for a request that comes while the department is closed (an on-call mobile); empty: it waits for the opening" }),
  maxConcurrentCalls: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 1000, { message: () => "must be an integer from 1 to 1000" })).annotations({ description: "calls to this department at once, across all processes" }),
    { default: () => 1 }
  )
}).annotations({ identifier: "DepartmentBody" })

export const DepartmentView = Department

export const DepartmentList = Schema.Struct({ items: Schema.Array(DepartmentView) }).annotations({ identifier: "DepartmentList" })

const DepartmentParams = Schema.Struct({
  id: IdParams.fields.id,
  key: Schema.String.annotations({ description: "the department's key (lower-case letters, digits and dashes; `main` is the business's own)" })
})

/** One saved version of a department's flow, as the domain describes it. */
export const FlowView = FlowVersion

export const FlowVersions = Schema.Struct({ items: Schema.Array(FlowView) }).annotations({ identifier: "CallFlowVersions" })

export const RouteBody = Schema.Struct({
  department: DepartmentKey.annotations({ description: "where the request goes: a department's key, or `main` for the business's own chain" })
}).annotations({ identifier: "RouteCallback" })

export const listDepartments = route({
  method: "get",
  path: "/admin/api/businesses/{id}/departments",
  operationId: "listDepartments",
  summary: "A business's departments, by key (the business itself is `main`, not listed).",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The departments", schema: DepartmentList } },
  problems: ["not-found", ...admin]
})

export const getDepartment = route({
  method: "get",
  path: "/admin/api/businesses/{id}/departments/{key}",
  operationId: "getDepartment",
  summary: "One department.",
  tags,
  security: "admin",
  params: DepartmentParams,
  responses: { 200: { description: "The department", schema: DepartmentView } },
  problems: ["not-found", ...admin]
})

export const putDepartment = route({
  method: "put",
  path: "/admin/api/businesses/{id}/departments/{key}",
  operationId: "putDepartment",
  summary: "Create a department, or replace its fields.",
  tags,
  security: "admin",
  params: DepartmentParams,
  body: { schema: DepartmentBody, excess: "error" },
  responses: { 200: { description: "Replaced", schema: DepartmentView }, 201: { description: "Created", schema: DepartmentView } },
  problems: ["validation", "malformed-body", "not-found", "payload-too-large", ...admin]
})

export const deleteDepartment = route({
  method: "delete",
  path: "/admin/api/businesses/{id}/departments/{key}",
  operationId: "deleteDepartment",
  summary: "Remove a department with no request in progress (its flow's versions are kept).",
  tags,
  security: "admin",
  params: DepartmentParams,
  responses: { 204: { description: "Removed" } },
  problems: ["not-found", "conflict", "payload-too-large", ...admin]
})

export const getCallFlow = route({
  method: "get",
  path: "/admin/api/businesses/{id}/departments/{key}/flow",
  operationId: "getCallFlow",
  summary: "The call flow a department plays now: its latest version, or the default flow (version 0).",
  tags,
  security: "admin",
  params: DepartmentParams,
  responses: { 200: { description: "The flow", schema: FlowView } },
  problems: ["not-found", ...admin]
})

export const putCallFlow = route({
  method: "put",
  path: "/admin/api/businesses/{id}/departments/{key}/flow",
  operationId: "putCallFlow",
  summary: "Save a new version of a department's call flow (calls answered from now on play it).",
  tags,
  security: "admin",
  params: DepartmentParams,
  body: { schema: CallFlow, excess: "error" },
  responses: { 201: { description: "Saved as a new version", schema: FlowView } },
  problems: ["validation", "malformed-body", "not-found", "payload-too-large", ...admin]
})

export const listCallFlowVersions = route({
  method: "get",
  path: "/admin/api/businesses/{id}/departments/{key}/flow/versions",
  operationId: "listCallFlowVersions",
  summary: "Every saved version of a department's call flow, newest first.",
  tags,
  security: "admin",
  params: DepartmentParams,
  responses: { 200: { description: "The versions", schema: FlowVersions } },
  problems: ["not-found", ...admin]
})

export const routeCallback = route({
  method: "post",
  path: "/admin/api/callbacks/{id}/route",
  operationId: "routeCallback",
  summary: "Move a request whose call is in progress to another department: the call ends, that department's chain is called from its first number.",
  description: "The visitor's attempts are not spent by the move. A request moves at most 3 times; a move that may not happen (no call in progress, the bound reached, an unknown department, its own) is a 409.",
  tags: ["admin-callbacks"],
  security: "admin",
  params: IdParams,
  body: { schema: RouteBody, excess: "error" },
  responses: { 200: { description: "The request, moved", schema: AdminCallbackView } },
  problems: ["validation", "malformed-body", "not-found", "conflict", "payload-too-large", ...admin]
})

/** What a visitor may choose from: the business's departments by key and name. */
export const TopicList = Schema.Struct({
  items: Schema.Array(Department.pick("key", "name")).annotations({ description: "the business's departments; none chosen (or `main`): the business's own line" })
}).annotations({ identifier: "TopicList" })

export const TopicsQuery = Schema.Struct({
  key: Schema.optional(Schema.String.annotations({ description: "the business's publishable key (pk_...); or send a key as `Authorization: Bearer`" })),
  businessId: Schema.optional(Schema.UUID.annotations({ description: "the business, with the admin token (a key names its own)" }))
})

export const listTopics = route({
  method: "get",
  path: "/v1/topics",
  operationId: "listTopics",
  summary: "The topics a visitor may choose when asking for a callback (`topic` of a create): the business's departments.",
  tags: ["callbacks"],
  security: "key",
  query: TopicsQuery,
  responses: { 200: { description: "The topics", schema: TopicList } },
  problems: ["validation", "not-found", "unavailable"]
})

export const AvailabilityQuery = Schema.Struct({
  ...TopicsQuery.fields,
  topic: Schema.optional(DepartmentKey.annotations({ description: "the department asked for (absent or `main`: the business's own hours)" }))
})

export const Availability = Schema.Struct({
  timezone: Schema.String.annotations({ description: "the business's time zone, which its hours are kept in" }),
  windows: Schema.Array(Schema.Struct({ start: Timestamp, end: Timestamp })).annotations({
    description: "the next open windows within 14 days, at most 5, in order (one window to the horizon when always open): a `window` of a create inside one is met"
  })
}).annotations({ identifier: "Availability" })

export const getAvailability = route({
  method: "get",
  path: "/v1/availability",
  operationId: "getAvailability",
  summary: "When a callback can be made: the next open windows of the business (or of a topic's department), for a visitor choosing a time.",
  tags: ["callbacks"],
  security: "key",
  query: AvailabilityQuery,
  responses: { 200: { description: "The next windows", schema: Availability } },
  problems: ["validation", "not-found", "unavailable"]
})

export const departmentRoutesContract = [listTopics, getAvailability, listDepartments, getDepartment, putDepartment, deleteDepartment, getCallFlow, putCallFlow, listCallFlowVersions, routeCallback]
