/**
 * Secrets of a request. Verification codes: drawn from the operating system's CSPRNG (uniform over
 * 000000-999999, domain/callbacks/Verification.ts) and stored only as an
 * HMAC-SHA256 keyed by the server's CODE_SECRET (ServerSecrets.ts) over the
 * request id and the code: equal codes of two requests never share a hash, and
 * the table alone (a backup, a leaked dump) cannot test the 10^6 codes offline.
 * Stream tokens: 32 random bytes, kept only as their SHA-256, compared in
 * constant time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"
import { codeFromBytes } from "../../domain/callbacks/Verification.ts"

export const newCode = (): string => {
  for (;;) {
    const code = codeFromBytes(randomBytes(4))
    if (code !== undefined) return code
  }
}

export const hashCode = (secret: Redacted.Redacted<string>, callbackId: string, code: string): string =>
  createHmac("sha256", Redacted.value(secret)).update(`${callbackId}:${code}`).digest("hex")

/** A new stream token: `cst_` and 43 base64url characters (256 bits). */
export const newStreamToken = (): string => `cst_${randomBytes(32).toString("base64url")}`

export const hashStreamToken = (token: string): string => createHash("sha256").update(token).digest("hex")

/** Whether `token` is the one whose hash is `hash`, in time independent of where they differ. */
export const streamTokenMatches = (token: string, hash: string): boolean => {
  const given = Buffer.from(hashStreamToken(token), "hex")
  const kept = Buffer.from(hash, "hex")
  return given.length === kept.length && timingSafeEqual(given, kept)
}
