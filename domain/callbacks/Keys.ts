/**
 * A business's API keys and the origins its pages may call from.
 *
 * A publishable key (`pk_...`) identifies the business in a web page and may
 * only create and follow callbacks; a secret key (`sk_...`) is for its servers
 * (create on behalf of visitors, read its callbacks, manage its webhooks).
 * Either is `<prefix>_` and 43 base64url characters (256 bits).
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"

export const KeyKind = Schema.Literal("publishable", "secret").annotations({ identifier: "KeyKind" })
export type KeyKind = typeof KeyKind.Type

export const KEY_PREFIX: { readonly [K in KeyKind]: string } = { publishable: "pk_", secret: "sk_" }

/** The shape of a key of either kind (what it looks like, not whether it exists). */
export const KEY_PATTERN = /^(pk|sk)_[A-Za-z0-9_-]{43}$/

/** The kind a key's text claims, when it has a key's shape. */
export const kindOf = (text: string): KeyKind | undefined => (KEY_PATTERN.test(text) ? (text.startsWith("pk_") ? "publishable" : "secret") : undefined)

/** A key as lists show it: never the key itself. */
export const BusinessKey = Schema.Struct({
  id: Schema.UUID,
  businessId: Schema.UUID,
  kind: KeyKind,
  prefix: Schema.String.annotations({ description: "the key's first characters, to tell keys apart" }),
  label: Schema.optional(Schema.String),
  createdAt: Timestamp,
  revokedAt: Schema.optional(Timestamp.annotations({ description: "when the key stops (stopped) working; absent: valid" }))
}).annotations({ identifier: "BusinessKey" })
export type BusinessKey = typeof BusinessKey.Type

/**
 * An origin as browsers send it: `scheme://host[:port]`, lower case, no path.
 * Exact matching only: no wildcards.
 */
export const Origin = Schema.String.pipe(
  Schema.filter((text) => isOrigin(text), { message: () => "must be an origin such as https://shop.example or http://localhost:3000 (scheme, host and port only; no path, no wildcard)" })
).annotations({ identifier: "Origin", description: "`scheme://host[:port]`, as a browser sends it in `Origin`" })

export const isOrigin = (text: string): boolean => {
  if (!/^https?:\/\/[a-z0-9.[\]:-]+$/.test(text) || text.length > 200) return false
  try {
    const url = new URL(text)
    return url.origin === text
  } catch {
    return false
  }
}
