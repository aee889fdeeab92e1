/**
 * Secrets of a request. Verification codes: one per issue of a code (the
 * request's create, each resend), derived from the server's CODE_SECRET
 * (ServerSecrets.ts), the request id and the moment the code was issued by
 * HMAC-SHA256, uniform over 000000-999999 (domain/callbacks/Verification.ts).
 * Without the secret a code is as unpredictable as a random one; with it, a
 * text sent again for the same issue (its job rescued from a process presumed
 * dead, or retried) carries the same code, so the one the visitor already has
 * keeps working. A code is stored only as an HMAC-SHA256 keyed by the same
 * secret over the request id and the code: equal codes of two requests never
 * share a hash, and the table alone (a backup, a leaked dump) cannot test the
 * 10^6 codes offline.
 * Stream tokens: 32 random bytes, kept only as their SHA-256, compared in
 * constant time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"
import { codeFromBytes } from "../../domain/callbacks/Verification.ts"

/** The code of the issue of `callbackId`'s code at `issuedAt`: the same for the same three, whatever process asks. */
export const codeOf = (secret: Redacted.Redacted<string>, callbackId: string, issuedAt: Date): string => {
  // a 32-byte digest is 8 draws of 4 bytes; a draw is rejected with probability < 0.1 %, so a second digest is all but never needed
  for (let round = 0; ; round++) {
    const digest = createHmac("sha256", Redacted.value(secret)).update(`code/${round}/${callbackId}/${issuedAt.toISOString()}`).digest()
    for (let at = 0; at + 4 <= digest.length; at += 4) {
      const code = codeFromBytes(digest.subarray(at, at + 4))
      if (code !== undefined) return code
    }
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
