/**
 * The route table: every operation this API serves, as data (Contract.ts).
 * The routers implement these routes, and the OpenAPI document at
 * `/openapi.json` is generated from this list (OpenApi.ts).
 */
import type { AnyRoute } from "../Contract.ts"
import { adminCallbackRoutesContract } from "./AdminCallbacks.ts"
import { adminWebhookRoutesContract } from "./AdminWebhooks.ts"
import { auditRoutesContract } from "./Audit.ts"
import { bulkRoutesContract } from "./Bulk.ts"
import { botCheckRoutesContract } from "./BotChecks.ts"
import { businessApiRoutesContract } from "./BusinessApi.ts"
import { callbackRoutesContract } from "./Callbacks.ts"
import { departmentRoutesContract } from "./Departments.ts"
import { eventRoutesContract } from "./Events.ts"
import { jobRoutesContract } from "./Jobs.ts"
import { keyRoutesContract, publicKeyRoutesContract } from "./Keys.ts"
import { operationRoutesContract } from "./Operations.ts"
import { twilioRoutesContract } from "./Twilio.ts"
import { widgetRoutesContract } from "./Widget.ts"

export const allRoutes: ReadonlyArray<AnyRoute> = [
  ...operationRoutesContract,
  ...callbackRoutesContract,
  ...publicKeyRoutesContract,
  ...businessApiRoutesContract,
  ...twilioRoutesContract,
  ...widgetRoutesContract,
  ...adminCallbackRoutesContract,
  ...departmentRoutesContract,
  ...keyRoutesContract,
  ...botCheckRoutesContract,
  ...adminWebhookRoutesContract,
  ...jobRoutesContract,
  ...bulkRoutesContract,
  ...eventRoutesContract,
  ...auditRoutesContract
]
