/**
 * Twilio's `Retry-After` is obeyed: a text turned away with 429 and a
 * Retry-After is sent again no sooner than Twilio asked, and the wait spends
 * none of the job's attempts; without one, the text is retried as any other
 * failure (an attempt spent, the job's own backoff). Over real HTTP with the
 * simulator, whose faults carry the header (the dialer's side is in
 * tests/chaos/product.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually } from "../../support/database.ts"
import { query } from "../../support/sql.ts"

const RETRY_AFTER_SECONDS = 3

describe("Twilio's Retry-After on a text", () => {
  let app: CallbackApp
  let url: string
  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url })
  })
  afterAll(() => app.dispose())

  const fault = (messages: Record<string, number>) => app.sim("/sim/faults", { method: "PUT", body: JSON.stringify({ messages }) })
  /** The request's `verification.send` job once it has completed (waits for it). */
  const completedSendJob = (id: string) =>
    eventually(
      async () =>
        (
          await query<{ attempt: number; errors: ReadonlyArray<unknown> | null }>(
            url,
            "SELECT attempt, errors FROM jobs WHERE kind = 'verification.send' AND args->>'callbackId' = $1 AND state = 'completed'",
            [id]
          )
        )[0],
      10_000,
      "the send job to complete"
    )
  const firstText = async (phone: string) => eventually(async () => (await app.messagesTo(phone))[0], 30_000, `a text to ${phone}`)

  it("a 429 with Retry-After: the code arrives no sooner than asked, and the job spent one attempt", async () => {
    const business = await app.createBusiness()
    const phone = freshNumber()
    expect((await fault({ status: 429, count: 1, retryAfter: RETRY_AFTER_SECONDS })).status).toBe(200)
    const asked = Date.now()
    const created = await app.create(business.id, phone)
    const text = await firstText(phone)
    const waited = Date.parse(text.createdAt) - asked
    console.log(`code sent ${waited} ms after the create, which Twilio turned away with Retry-After ${RETRY_AFTER_SECONDS} s`)
    expect(waited).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 1000) // createdAt has whole seconds (RFC 2822)
    expect(await completedSendJob(created.id)).toMatchObject({ attempt: 1 })
  })

  it("a 429 without Retry-After is an ordinary retry: an attempt is spent and the error recorded", async () => {
    const business = await app.createBusiness()
    const phone = freshNumber()
    expect((await fault({ status: 429, count: 1 })).status).toBe(200)
    const created = await app.create(business.id, phone)
    await firstText(phone)
    const job = await completedSendJob(created.id)
    expect(job.attempt).toBe(2)
    expect(job.errors).toHaveLength(1)
  })
})
