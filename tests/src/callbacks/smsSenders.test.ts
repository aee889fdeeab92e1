/**
 * Texts from a pool of senders, each at its own pace, over real HTTP with the
 * simulator: three numbers at 2 texts per second take 24 visitors' codes,
 * some resends and one fallback. Every text arrives; a number never sends
 * more than 2 in any second (by the simulator's own clock); a visitor hears
 * from one number only; the pool is shared out; calls keep TWILIO_FROM.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TwilioGateway } from "../../../infra/twilio/TwilioGateway.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually } from "../../support/database.ts"

const SENDERS = ["+14155550101", "+14155550102", "+14155550103"]
const RATE = 2
const VISITORS = 24
const RESENDS = 4

interface SentText {
  readonly to: string
  readonly from: string
  readonly body: string
  readonly createdAt: string
}

describe("a pool of SMS senders", () => {
  let app: CallbackApp
  beforeAll(async () => {
    app = await startCallbackApp({
      databaseUrl: await cloneDatabase(),
      env: { TWILIO_SMS_SENDERS: SENDERS.join(","), SMS_SENDER_RATE: String(RATE), QUEUES: "default:4,calls:8,sms:8,webhooks:2" }
    })
  })
  afterAll(() => app.dispose())

  const texts = async () => (await (await app.sim("/sim/messages")).json()) as ReadonlyArray<SentText>
  const textsTo = async (phone: string) => (await texts()).filter((t) => t.to === phone)

  it("sends every text from the visitor's own number, at most RATE per second per number", async () => {
    const business = await app.createBusiness()
    const visitors = Array.from({ length: VISITORS }, () => freshNumber())
    const created = await Promise.all(visitors.map((phone) => app.create(business.id, phone)))

    // a few visitors ask for a new code once their first has come
    const resent = created.slice(0, RESENDS)
    await Promise.all(
      resent.map(async (request) => {
        await eventually(async () => ((await textsTo(request.phone)).length > 0 ? true : undefined), 30_000, `the first code to ${request.phone}`)
        const response = await app.request(`/v1/callbacks/${request.id}/verification/resend`, { method: "POST" })
        expect(response.status).toBe(202)
      })
    )

    // one more visitor is verified and called, nobody answers: a fallback text follows the code, from the same number
    const failing = await app.createBusiness({ smsFallback: true })
    await app.script(failing.phone, "busy", { afterMs: 50 })
    const unlucky = await app.create(failing.id)
    const code = await eventually(async () => /code is (\d{6})/.exec((await textsTo(unlucky.phone))[0]?.body ?? "")?.[1], 30_000, "the code of the called visitor")
    expect((await app.verify(unlucky.id, code)).status).toBe(200)
    await app.waitForStatus(unlucky.id, "failed", 30_000)

    const expected = new Map<string, number>([...visitors.map((phone): [string, number] => [phone, 1]), [unlucky.phone, 2]])
    for (const request of resent) expected.set(request.phone, 2)
    const all = await eventually(async () => {
      const sent = await texts()
      return [...expected].every(([phone, n]) => sent.filter((t) => t.to === phone).length >= n) ? sent : undefined
    }, 30_000, "every text")
    // every text arrived, once
    for (const [phone, n] of expected) expect(all.filter((t) => t.to === phone)).toHaveLength(n)
    expect(all.filter((t) => t.to === unlucky.phone).map((t) => t.body).join(" ")).toContain("could not reach you")

    // each visitor hears from one number of the pool, and the pool is shared out
    const fromOf = new Map<string, Set<string>>()
    for (const text of all) fromOf.set(text.to, (fromOf.get(text.to) ?? new Set()).add(text.from))
    for (const [phone, froms] of fromOf) expect([phone, froms.size]).toEqual([phone, 1])
    const used = new Set(all.map((t) => t.from))
    expect([...used].every((from) => SENDERS.includes(from))).toBe(true)
    expect(used.size).toBeGreaterThan(1)

    // no number sent more than RATE texts in any second, by the simulator's clock: texts RATE apart are a second apart
    for (const sender of SENDERS) {
      const at = all.filter((t) => t.from === sender).map((t) => Date.parse(t.createdAt)).sort((a, b) => a - b)
      const crowded = at.flatMap((t, i) => (i + RATE < at.length && (at[i + RATE] as number) - t < 1_000 ? [[new Date(t).toISOString(), (at[i + RATE] as number) - t]] : []))
      expect([sender, crowded]).toEqual([sender, []])
    }

    // calls still come from TWILIO_FROM
    const gateway = await app.runtime.runPromise(TwilioGateway)
    const calls = (await (await app.sim(`/sim/calls?to=${encodeURIComponent(failing.phone)}`)).json()) as ReadonlyArray<{ from: string }>
    expect(calls.length).toBeGreaterThan(0)
    expect(new Set(calls.map((c) => c.from))).toEqual(new Set([gateway.from]))
    expect(SENDERS).not.toContain(gateway.from)
  })
})
