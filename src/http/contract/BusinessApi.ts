/**
 * A business's own server API, for its secret key (`sk_...`): its callback
 * requests with the visitors' details, and its webhook endpoints. The same
 * shapes and use cases as the operators' routes under `/admin/api`, with the
 * business taken from the key: another business's endpoint or request is a
 * 404 here, as if there were none.
 */
import { route, type Route } from "../Contract.ts"
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDelivery,
  rotateWebhookSecret,
  updateWebhookEndpoint
} from "./AdminWebhooks.ts"
import { AdminCallbackPage, CallbacksQuery } from "./AdminCallbacks.ts"

export const listOwnCallbacks = route({
  method: "get",
  path: "/v1/callbacks",
  operationId: "listOwnCallbacks",
  summary: "The key's business's callback requests with the visitors' details, newest first (status=failed: the ones that finally failed).",
  tags: ["callbacks"],
  security: "secret",
  query: CallbacksQuery.omit("businessId"),
  responses: { 200: { description: "A page of requests", schema: AdminCallbackPage } },
  problems: ["validation", "unauthorized", "forbidden", "unavailable"]
})

/** An operator's route as the business's own: at `path`, for its secret key. */
const own = <P, Q, H, B>(operator: Route<P, Q, H, B>, path: string, operationId: string): Route<P, Q, H, B> => ({ ...operator, path, operationId, security: "secret" })

/** The same, for a route whose path named the business: here the key names it. */
const ownOfBusiness = <P, Q, H, B>(operator: Route<P, Q, H, B>, path: string, operationId: string): Route<unknown, Q, H, B> => ({
  ...own(operator, path, operationId),
  params: undefined
})

export const createOwnWebhookEndpoint = ownOfBusiness(createWebhookEndpoint, "/v1/webhooks", "createOwnWebhookEndpoint")
export const listOwnWebhookEndpoints = ownOfBusiness(listWebhookEndpoints, "/v1/webhooks", "listOwnWebhookEndpoints")
export const getOwnWebhookEndpoint = own(getWebhookEndpoint, "/v1/webhooks/{endpointId}", "getOwnWebhookEndpoint")
export const updateOwnWebhookEndpoint = own(updateWebhookEndpoint, "/v1/webhooks/{endpointId}", "updateOwnWebhookEndpoint")
export const deleteOwnWebhookEndpoint = own(deleteWebhookEndpoint, "/v1/webhooks/{endpointId}", "deleteOwnWebhookEndpoint")
export const rotateOwnWebhookSecret = own(rotateWebhookSecret, "/v1/webhooks/{endpointId}/rotate-secret", "rotateOwnWebhookSecret")
export const listOwnWebhookDeliveries = own(listWebhookDeliveries, "/v1/webhooks/{endpointId}/deliveries", "listOwnWebhookDeliveries")
export const replayOwnWebhookDelivery = own(replayWebhookDelivery, "/v1/webhooks/{endpointId}/deliveries/{deliveryId}/replay", "replayOwnWebhookDelivery")

export const businessApiRoutesContract = [
  listOwnCallbacks,
  createOwnWebhookEndpoint,
  listOwnWebhookEndpoints,
  getOwnWebhookEndpoint,
  updateOwnWebhookEndpoint,
  deleteOwnWebhookEndpoint,
  rotateOwnWebhookSecret,
  listOwnWebhookDeliveries,
  replayOwnWebhookDelivery
]
