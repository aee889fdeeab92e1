/** Signatures as the Standard Webhooks reference library makes and checks them. */
import fc from "fast-check"
import { Webhook } from "standardwebhooks"
import { describe, expect, it } from "vitest"
import { newSecret, sign, signatureHeader } from "../../../infra/callbacks/WebhookSigning.ts"

describe("webhook signatures", () => {
  it("a secret is whsec_ and the base64 of 32 random bytes", () => {
    const secret = newSecret()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32)
    expect(newSecret()).not.toBe(secret)
  })

  it("property: our signature is the library's, and the library verifies our header", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }), fc.json(), (id, timestamp, body) => {
        const secret = newSecret()
        const library = new Webhook(secret)
        expect(sign(secret, id, timestamp, body)).toBe(library.sign(id, new Date(timestamp * 1000), body))
        const headers = { "webhook-id": id, "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "" }
        headers["webhook-signature"] = signatureHeader([newSecret(), secret], id, Number(headers["webhook-timestamp"]), body)
        expect(() => library.verify(body, headers)).not.toThrow()
        expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow()
      }),
      { numRuns: 50 }
    )
  })
})
