/** `GET /admin`: the operator's page (routes/Dashboard.ts). It holds no data, so it needs no token. */
import { route } from "../Contract.ts"

export const dashboard = route({
  method: "get",
  path: "/admin",
  operationId: "dashboard",
  summary: "The operator's dashboard: one self-contained HTML page that asks for the admin token and reads the admin API with it.",
  description: "Served by the processes that serve the API (roles `web` and `all`); a worker answers 404.",
  tags: ["dashboard"],
  responses: { 200: { description: "The page", contentType: "text/html", text: true } },
  problems: ["not-found"]
})

export const dashboardRoutesContract = [dashboard]
