/**
 * Phone verification by SMS code, as pure policy.
 *
 * A code is 6 digits drawn from random bytes the caller supplies (a CSPRNG in
 * infra), stored only as a hash, valid for 10 minutes, checked at most 5 times
 * and usable once. A request may have at most 3 codes sent (the first and its
 * resends) per 10 minutes. Hashing and the clock belong to the caller: these
 * functions take the hash of what was entered and the current time.
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"

export interface VerificationPolicy {
  readonly codeLifetime: Duration.Duration
  readonly maxChecks: number
  readonly maxSends: number
  readonly sendWindow: Duration.Duration
}

export const defaultVerificationPolicy: VerificationPolicy = {
  codeLifetime: Duration.minutes(10),
  maxChecks: 5,
  maxSends: 3,
  sendWindow: Duration.minutes(10)
}

export const CODE_LENGTH = 6

/**
 * A 6-digit code from at least 4 random bytes. Values of the 32-bit number at
 * or above the largest multiple of 10^6 are rejected (undefined: draw again),
 * so every code is equally likely.
 */
export const codeFromBytes = (bytes: Uint8Array): string | undefined => {
  if (bytes.length < 4) throw new Error("codeFromBytes needs 4 random bytes")
  const n = (((bytes[0] ?? 0) << 24) >>> 0) + ((bytes[1] ?? 0) << 16) + ((bytes[2] ?? 0) << 8) + (bytes[3] ?? 0)
  const space = 10 ** CODE_LENGTH
  const limit = Math.floor(2 ** 32 / space) * space
  return n >= limit ? undefined : String(n % space).padStart(CODE_LENGTH, "0")
}

export interface Verification {
  readonly codeHash: string
  readonly issuedAt: Date
  readonly checks: number
  readonly usedAt: Date | undefined
}

export type CheckResult =
  | { readonly _tag: "Verified" }
  | { readonly _tag: "WrongCode"; readonly attemptsRemaining: number }
  /** Expired, out of checks, or already used: a new code is needed. */
  | { readonly _tag: "Gone"; readonly reason: "expired" | "out_of_attempts" | "used" }

export const expiresAt = (verification: Pick<Verification, "issuedAt">, policy = defaultVerificationPolicy): Date =>
  new Date(verification.issuedAt.getTime() + Duration.toMillis(policy.codeLifetime))

/** The outcome of entering a code whose hash is `enteredHash` at `now`; a wrong code uses one of the checks. */
export const check = (verification: Verification, enteredHash: string, now: Date, policy = defaultVerificationPolicy): CheckResult => {
  if (verification.usedAt !== undefined) return { _tag: "Gone", reason: "used" }
  if (now.getTime() >= expiresAt(verification, policy).getTime()) return { _tag: "Gone", reason: "expired" }
  if (verification.checks >= policy.maxChecks) return { _tag: "Gone", reason: "out_of_attempts" }
  if (enteredHash === verification.codeHash) return { _tag: "Verified" }
  return { _tag: "WrongCode", attemptsRemaining: policy.maxChecks - verification.checks - 1 }
}

/**
 * Whether another code may be sent at `now`, given when earlier ones were
 * sent; when not, how long until the oldest send in the window ages out.
 */
export const mayResend = (
  sentAt: ReadonlyArray<Date>,
  now: Date,
  policy = defaultVerificationPolicy
): { readonly allowed: true } | { readonly allowed: false; readonly retryAfter: Duration.Duration } => {
  const window = Duration.toMillis(policy.sendWindow)
  const recent = sentAt.map((d) => d.getTime()).filter((t) => now.getTime() - t < window).sort((a, b) => a - b)
  if (recent.length < policy.maxSends) return { allowed: true }
  const oldest = recent[recent.length - policy.maxSends] ?? now.getTime()
  return { allowed: false, retryAfter: Duration.millis(Math.max(0, oldest + window - now.getTime())) }
}

/** How the visitor's code travels, and until when it works. */
export const VerificationTicket = Schema.Struct({
  channel: Schema.Literal("sms"),
  expiresAt: Timestamp
}).annotations({ identifier: "VerificationTicket" })

/** A request awaiting its code: what a create (and a resend) answers with, and what an idempotent replay repeats. */
export const PendingCallback = Schema.Struct({
  id: Schema.UUID,
  status: Schema.Literal("pending_verification"),
  verification: VerificationTicket,
  streamToken: Schema.optional(
    Schema.String.annotations({
      description:
        "the key to this request's live stream (`GET /v1/callbacks/{id}/stream?token=`); answered by the create only (and by its idempotent replay), never again"
    })
  )
}).annotations({ identifier: "PendingCallback" })
export type PendingCallback = typeof PendingCallback.Type
