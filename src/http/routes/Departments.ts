/**
 * A business's departments and call flows, and an operator's move of a
 * request during its call (contract/Departments.ts). Behind the admin token.
 */
import { type Context, Hono } from "hono"
import * as Effect from "effect/Effect"
import * as Departments from "../../callbacks/Departments.ts"
import { operatorRoute } from "../../callbacks/Routing.ts"
import { AdminCallbackView } from "../contract/AdminCallbacks.ts"
import {
  Availability,
  deleteDepartment,
  getAvailability,
  DepartmentList,
  DepartmentView,
  FlowVersions,
  FlowView,
  getCallFlow,
  getDepartment,
  listCallFlowVersions,
  listTopics,
  listDepartments,
  putCallFlow,
  putDepartment,
  routeCallback,
  TopicList
} from "../contract/Departments.ts"
import { validationFailedAt } from "../../Failures.ts"
import type { HttpEnv } from "../Handler.ts"
import { implement, reply } from "../Validate.ts"

/** The business a public route is about: the key's, or with the admin token the one `businessId` names. */
const askedBusiness = (c: Context<HttpEnv>, businessId: string | undefined) => {
  const who = c.get("principal")
  if (who !== undefined && who.kind !== "admin") return Effect.succeed(who.businessId)
  return businessId === undefined ? Effect.fail(validationFailedAt("query", "businessId", "is required with the admin token")) : Effect.succeed(businessId)
}

/** What a visitor chooses from (public routes: a key, or the admin token naming the business): topics and times. */
export const topicRoutes = () => {
  const router = new Hono<HttpEnv>()
  implement(router, listTopics, ({ query }, c) =>
    Effect.flatMap(askedBusiness(c, query.businessId), (businessId) =>
      Effect.flatMap(Departments.list(businessId), (departments) => reply(TopicList, { items: departments.map(({ key, name }) => ({ key, name })) }))
    )
  )
  implement(router, getAvailability, ({ query }, c) =>
    Effect.flatMap(askedBusiness(c, query.businessId), (businessId) => Effect.flatMap(Departments.availability(businessId, query.topic), (availability) => reply(Availability, availability)))
  )
  return router
}

export const departmentRoutes = () => {
  const router = new Hono<HttpEnv>()

  implement(router, listDepartments, ({ params }) => Effect.flatMap(Departments.list(params.id), (items) => reply(DepartmentList, { items })))

  implement(router, getDepartment, ({ params }) => Effect.flatMap(Departments.find(params.id, params.key), (department) => reply(DepartmentView, department)))

  implement(router, putDepartment, ({ params, body }) =>
    Effect.flatMap(Departments.put(params.id, params.key, body), ({ department, created }) => reply(DepartmentView, department, created ? 201 : 200))
  )

  implement(router, deleteDepartment, ({ params }) => Effect.as(Departments.remove(params.id, params.key), new Response(null, { status: 204 })))

  implement(router, getCallFlow, ({ params }) => Effect.flatMap(Departments.currentFlow(params.id, params.key), (flow) => reply(FlowView, flow)))

  implement(router, putCallFlow, ({ params, body }) => Effect.flatMap(Departments.saveFlow(params.id, params.key, body), (flow) => reply(FlowView, flow, 201)))

  implement(router, listCallFlowVersions, ({ params }) => Effect.flatMap(Departments.flowVersions(params.id, params.key), (items) => reply(FlowVersions, { items })))

  implement(router, routeCallback, ({ params, body }) => Effect.flatMap(operatorRoute(params.id, body.department), (request) => reply(AdminCallbackView, request)))

  return router
}
