/**
 * Business keys (admin API) and what a key may read about its business
 * (public API). See domain/callbacks/Keys.ts and docs/widget.md.
 */
import * as Schema from "effect/Schema"
import { Business } from "../../../domain/callbacks/Business.ts"
import { BotCheck } from "../../../domain/callbacks/BotCheck.ts"
import { BusinessKey, KeyKind } from "../../../domain/callbacks/Keys.ts"
import { route } from "../Contract.ts"
import { KeyQuery } from "./Callbacks.ts"
import { IdParams, Optional, PlainText } from "./Fields.ts"

export const IssueKeyBody = Schema.Struct({
  kind: KeyKind.annotations({ description: "`publishable` (pk_..., safe in a web page: may only create and follow callbacks) or `secret` (sk_..., for the business's servers)" }),
  label: Optional(PlainText(0, 100).annotations({ description: "what the key is for, shown in lists" }))
}).annotations({ identifier: "IssueKey" })

export const IssuedKey = Schema.Struct({
  ...BusinessKey.fields,
  key: Schema.String.annotations({ description: "the key itself: shown this once, only its hash is kept" })
}).annotations({ identifier: "IssuedKey" })

export const KeyList = Schema.Struct({ items: Schema.Array(BusinessKey) }).annotations({ identifier: "KeyList" })

/** At most 30 days of overlap: a rotation, not a schedule. */
const MAX_OVERLAP_SECONDS = 30 * 24 * 3600

export const RevokeKeyBody = Schema.Struct({
  afterSeconds: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(0, MAX_OVERLAP_SECONDS, { message: () => `must be an integer from 0 to ${MAX_OVERLAP_SECONDS} (30 days)` })).annotations({
      description: "keep the key working this long (a rotation's overlap: issue the new key, deploy it, then the old one stops); 0, the default: at once"
    }),
    { default: () => 0 }
  )
}).annotations({ identifier: "RevokeKey" })

/** What a web page may know of the business its key names. */
export const PublicBusiness = Schema.Struct({
  ...Business.pick("name", "country", "timezone").fields,
  botCheck: Schema.optional(BotCheck.annotations({ description: "the challenge a create from a web page must pass (its token goes in `botToken`); absent: none" }))
}).annotations({ identifier: "PublicBusiness" })

const admin = ["unauthorized", "forbidden", "unavailable"] as const
const tags = ["keys"]

export const issueKey = route({
  method: "post",
  path: "/admin/api/businesses/{id}/keys",
  operationId: "issueKey",
  summary: "Issue a key for a business (shown once).",
  tags,
  security: "admin",
  params: IdParams,
  body: { schema: IssueKeyBody, excess: "error" },
  responses: { 201: { description: "The key, and how lists will show it", schema: IssuedKey } },
  problems: ["validation", "malformed-body", "not-found", ...admin]
})

export const listKeys = route({
  method: "get",
  path: "/admin/api/businesses/{id}/keys",
  operationId: "listKeys",
  summary: "A business's keys, by prefix (never the keys themselves), revoked ones included.",
  tags,
  security: "admin",
  params: IdParams,
  responses: { 200: { description: "The keys, oldest first", schema: KeyList } },
  problems: ["not-found", ...admin]
})

export const revokeKey = route({
  method: "post",
  path: "/admin/api/keys/{id}/revoke",
  operationId: "revokeKey",
  summary: "Revoke a key, at once or after an overlap; refused by every process from then on.",
  tags,
  security: "admin",
  params: IdParams,
  body: { schema: RevokeKeyBody, excess: "error" },
  responses: { 200: { description: "The key, with when it stops working", schema: BusinessKey } },
  problems: ["validation", "malformed-body", "not-found", ...admin]
})

export const getPublicBusiness = route({
  method: "get",
  path: "/v1/business",
  operationId: "getPublicBusiness",
  summary: "The business a key names: its name, and the country its visitors' numbers are read in.",
  tags: ["callbacks"],
  security: "key",
  query: KeyQuery,
  responses: { 200: { description: "The key's business", schema: PublicBusiness } },
  problems: ["validation", "unauthorized", "forbidden", "not-found", "unavailable"]
})

export const keyRoutesContract = [issueKey, listKeys, revokeKey]
export const publicKeyRoutesContract = [getPublicBusiness]
