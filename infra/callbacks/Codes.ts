/**
 * Verification codes: drawn from the operating system's CSPRNG (uniform over
 * 000000-999999, domain/callbacks/Verification.ts) and stored only as a hash
 * salted with the request id, so equal codes of two requests never share a hash.
 */
import { createHash, randomBytes } from "node:crypto"
import { codeFromBytes } from "../../domain/callbacks/Verification.ts"

export const newCode = (): string => {
  for (;;) {
    const code = codeFromBytes(randomBytes(4))
    if (code !== undefined) return code
  }
}

export const hashCode = (callbackId: string, code: string): string => createHash("sha256").update(`${callbackId}:${code}`).digest("hex")
