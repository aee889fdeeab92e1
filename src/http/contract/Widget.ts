/**
 * The callback widget (docs/widget.md): its script at a short-cached URL and
 * at a versioned, immutable one, and the development demo page that embeds
 * it (with the page's script and the simulator's recent texts).
 */
import * as Schema from "effect/Schema"
import { route } from "../Contract.ts"

const tags = ["widget"]

const script = { description: "The script", contentType: "text/javascript", text: true } as const
const scriptHeaders = {
  ETag: { description: "the script's content hash" },
  "Cache-Control": { description: "how long caches may keep it" },
  "Content-Location": { description: "the versioned URL of these exact bytes (`/widget/v1.<hash>.js`)" }
}
/** A revalidation: the request's `If-None-Match` (read as is, never refused) names the current ETag. */
const notModified = { description: "Not modified: the ETag in the request's `If-None-Match` is the current one" }

export const widgetScript = route({
  method: "get",
  path: "/widget.js",
  operationId: "widgetScript",
  summary: "The `<switchboard-callback>` element: the current build, cached for 5 minutes.",
  description: "A classic script that defines the custom element; embed it with a script element whose `src` is this URL (`async` is fine). Gzipped for clients that accept it.",
  tags,
  responses: { 200: { ...script, headers: scriptHeaders }, 304: notModified },
  problems: []
})

export const WidgetFileParams = Schema.Struct({
  file: Schema.String.annotations({ description: "`v1.<hash>.js`: the versioned name `/widget.js` answers in `Content-Location`" })
})

export const widgetVersion = route({
  method: "get",
  path: "/widget/{file}",
  operationId: "widgetVersion",
  summary: "The same script at its versioned URL, cached for a year (immutable).",
  description: "Only the build this server runs is served; another hash is a 404. Pin it only together with a deploy of your page (docs/widget.md, \"Versions and caching\").",
  tags,
  params: WidgetFileParams,
  responses: { 200: { ...script, headers: scriptHeaders }, 304: notModified },
  problems: ["not-found"]
})

const developmentOnly = "Development only: with `NODE_ENV=production` it is a 404."

export const demoPage = route({
  method: "get",
  path: "/demo",
  operationId: "demoPage",
  summary: "A page that embeds the widget for a demo business (created at the first visit, with a publishable key of this process).",
  description: developmentOnly,
  tags,
  responses: { 200: { description: "The page", contentType: "text/html", text: true } },
  problems: ["not-found", "unavailable"]
})

export const demoScript = route({
  method: "get",
  path: "/demo/demo.js",
  operationId: "demoScript",
  summary: "The demo page's own script (language and theme switches, the simulator's texts).",
  description: developmentOnly,
  tags,
  responses: { 200: { description: "The script", contentType: "text/javascript", text: true } },
  problems: ["not-found"]
})

export const SimulatorTexts = Schema.Struct({
  simulator: Schema.Boolean.annotations({ description: "whether texts go to the Twilio simulator (false: to real phones, none listed)" }),
  items: Schema.Array(Schema.Struct({ to: Schema.String, body: Schema.String, createdAt: Schema.String }))
}).annotations({ identifier: "SimulatorTexts" })

export const demoTexts = route({
  method: "get",
  path: "/demo/texts",
  operationId: "demoTexts",
  summary: "The last texts the Twilio simulator received, newest first, so the demo's visitor can read their code.",
  description: developmentOnly,
  tags,
  responses: { 200: { description: "The texts", schema: SimulatorTexts } },
  problems: ["not-found", "unavailable"]
})

export const widgetRoutesContract = [widgetScript, widgetVersion, demoPage, demoScript, demoTexts]
