import * as Duration from "effect/Duration"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { check, codeFromBytes, mayResend, type Verification } from "../../../domain/callbacks/Verification.ts"

const issuedAt = new Date("2026-11-23T10:00:00Z")
const fresh: Verification = { codeHash: "h(123456)", issuedAt, checks: 0, usedAt: undefined }
const after = (ms: number) => new Date(issuedAt.getTime() + ms)

describe("verification codes", () => {
  it("are six digits, uniform: the biased top of the 32-bit range is rejected", () => {
    expect(codeFromBytes(Uint8Array.of(0, 0, 0, 7))).toBe("000007")
    expect(codeFromBytes(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toBeUndefined()
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const code = codeFromBytes(bytes)
        return code === undefined || /^\d{6}$/.test(code)
      })
    )
  })

  it("verify once, count wrong codes down, and are gone when expired, out of checks or used", () => {
    expect(check(fresh, "h(123456)", after(60_000))).toEqual({ _tag: "Verified" })
    expect(check(fresh, "h(000000)", after(60_000))).toEqual({ _tag: "WrongCode", attemptsRemaining: 4 })
    expect(check({ ...fresh, checks: 4 }, "h(000000)", after(1))).toEqual({ _tag: "WrongCode", attemptsRemaining: 0 })
    expect(check({ ...fresh, checks: 5 }, "h(123456)", after(1))).toEqual({ _tag: "Gone", reason: "out_of_attempts" })
    expect(check(fresh, "h(123456)", after(10 * 60_000))).toEqual({ _tag: "Gone", reason: "expired" })
    expect(check({ ...fresh, usedAt: after(5) }, "h(123456)", after(10))).toEqual({ _tag: "Gone", reason: "used" })
  })

  it("may be sent 3 times per 10 minutes; the answer says when the next send is allowed", () => {
    const sends = [after(0), after(60_000), after(120_000)]
    expect(mayResend(sends.slice(0, 2), after(130_000))).toEqual({ allowed: true })
    const refused = mayResend(sends, after(130_000))
    expect(refused.allowed).toBe(false)
    if (!refused.allowed) expect(Duration.toMillis(refused.retryAfter)).toBe(600_000 - 130_000)
    expect(mayResend(sends, after(600_000))).toEqual({ allowed: true })
  })
})
