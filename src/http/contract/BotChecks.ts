/**
 * A business's bot check (admin API): set, show and remove. The secret goes
 * in and never comes out. See domain/callbacks/BotCheck.ts and
 * docs/callbacks.md "Bot check".
 */
import * as Schema from "effect/Schema"
import { BotCheck, BotCheckView } from "../../../domain/callbacks/BotCheck.ts"
import { route } from "../Contract.ts"
import { IdParams } from "./Fields.ts"

export const BotCheckBody = Schema.Struct({
  ...BotCheck.fields,
  secret: Schema.String.pipe(
    Schema.minLength(1),
    Schema.maxLength(200),
    Schema.pattern(/^[\x21-\x7e]+$/, { message: () => "must be printable ASCII without spaces" })
  ).annotations({ description: "the provider's secret key, sent to its siteverify endpoint with each token; never shown again" })
}).annotations({ identifier: "BotCheckBody" })

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["businesses"]
const path = "/admin/api/businesses/{id}/bot-check"

export const setBotCheck = route({
  method: "put",
  path,
  operationId: "setBotCheck",
  summary: "Ask web pages for a bot check (Turnstile or hCaptcha) before a create; replaces the business's current one.",
  tags,
  security: "admin",
  params: IdParams,
  body: { schema: BotCheckBody, excess: "error" },
  responses: { 200: { description: "The bot check, without its secret", schema: BotCheckView } },
  problems: ["validation", "malformed-body", "not-found", "payload-too-large", ...admin]
})

export const getBotCheck = route({
  method: "get",
  path,
  operationId: "getBotCheck",
  summary: "The business's bot check, without its secret.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The bot check", schema: BotCheckView } },
  problems: ["not-found", ...admin]
})

export const removeBotCheck = route({
  method: "delete",
  path,
  operationId: "removeBotCheck",
  summary: "Stop asking web pages for a bot check.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 204: { description: "Removed" } },
  problems: ["not-found", "payload-too-large", ...admin]
})

export const botCheckRoutesContract = [setBotCheck, getBotCheck, removeBotCheck]
