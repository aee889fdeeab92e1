/**
 * Standard Webhooks signatures: a secret is `whsec_<base64 of 32 random bytes>`,
 * and a signature is `v1,<base64 HMAC-SHA256>` keyed by the secret's decoded
 * bytes over `<webhook-id>.<webhook-timestamp>.<body>`. Several signatures
 * (during a secret rotation) are separated by a space in `webhook-signature`.
 */
import { createHmac, randomBytes } from "node:crypto"
import { SECRET_PREFIX, signedContent } from "../../domain/callbacks/Webhooks.ts"

/** A fresh signing secret. */
export const newSecret = (): string => `${SECRET_PREFIX}${randomBytes(32).toString("base64")}`

const keyOf = (secret: string): Buffer => Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64")

/** One `v1,<signature>` of `body` sent as message `id` at `timestampSeconds`. */
export const sign = (secret: string, id: string, timestampSeconds: number, body: string): string =>
  `v1,${createHmac("sha256", keyOf(secret)).update(signedContent(id, timestampSeconds, body)).digest("base64")}`

/** The `webhook-signature` header: one signature per secret, space-separated. */
export const signatureHeader = (secrets: ReadonlyArray<string>, id: string, timestampSeconds: number, body: string): string =>
  secrets.map((secret) => sign(secret, id, timestampSeconds, body)).join(" ")
