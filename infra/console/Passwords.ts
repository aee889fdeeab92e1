/**
 * Password hashes for operator accounts: scrypt (RFC 7914) with OWASP's
 * parameters (N = 2^17, r = 8, p = 1: 128 MiB and a few hundred milliseconds
 * per hash, so a stolen table is slow to attack), a 16-byte random salt, and
 * the parameters stored with the hash so they can be raised later:
 * `scrypt$17$8$1$<salt>$<hash>` (base64url). Verification is timing-safe, and
 * an unknown account is checked against a dummy hash so that its answer takes
 * as long as a wrong password's.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import * as Effect from "effect/Effect"

const LOG_N = 17
const R = 8
const P = 1
const KEY_LENGTH = 32

const derive = (password: string, salt: Buffer, logN: number, r: number, p: number): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    // scrypt needs 128 * N * r bytes; allow that and a margin
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r }, (error, key) =>
      resume(error === null ? Effect.succeed(key) : Effect.die(error))
    )
  })

/** The stored form of `password`. */
export const hashPassword = (password: string): Effect.Effect<string> => {
  const salt = randomBytes(16)
  return Effect.map(derive(password, salt, LOG_N, R, P), (key) => `scrypt$${LOG_N}$${R}$${P}$${salt.toString("base64url")}$${key.toString("base64url")}`)
}

const FORMAT = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/

/** Whether `password` is the one `stored` was made from (false for a stored value of another format). */
export const verifyPassword = (password: string, stored: string): Effect.Effect<boolean> => {
  const match = FORMAT.exec(stored)
  if (match === null) return Effect.succeed(false)
  const [, logN, r, p, salt, hash] = match
  const expected = Buffer.from(hash ?? "", "base64url")
  return Effect.map(derive(password, Buffer.from(salt ?? "", "base64url"), Number(logN), Number(r), Number(p)), (key) => key.length === expected.length && timingSafeEqual(key, expected))
}

/** A hash no password matches, for answering an unknown name in the time a known one takes. */
export const DUMMY_HASH = `scrypt$${LOG_N}$${R}$${P}$${Buffer.alloc(16).toString("base64url")}$${Buffer.alloc(KEY_LENGTH).toString("base64url")}`
