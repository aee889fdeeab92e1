/**
 * Delivers webhooks the way Twilio does: form-encoded POSTs signed with
 * `X-Twilio-Signature` over the URL and parameters, each carrying an
 * `I-Twilio-Idempotency-Token` unique to the logical delivery. Status
 * callbacks are delivered again `webhookRetries` times (a fault) with the
 * same token and body, as Twilio does when it retries.
 */
import { randomUUID } from "node:crypto"
import twilio from "twilio"
import type { SimulatorState } from "./Model.ts"

export interface Delivery {
  /** Whether the fault's redeliveries apply (status callbacks: yes; the voice URL's TwiML fetch: no). */
  readonly retried: boolean
}

/** POSTs `params` to `url`; the first delivery's response text, or undefined when it failed. */
export const makeDeliver = (state: SimulatorState) => async (url: string, params: Record<string, string>, delivery: Delivery): Promise<string | undefined> => {
  const signature = twilio.getExpectedTwilioSignature(state.options.authToken, url, params)
  const headers = { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": randomUUID() }
  const once = async (): Promise<string | undefined> => {
    try {
      const response = await fetch(url, { method: "POST", headers, body: new URLSearchParams(params).toString() })
      return await response.text()
    } catch (error) {
      state.options.onCallbackError?.(url, error)
      return undefined
    }
  }
  const first = await once()
  if (delivery.retried) for (let n = 0; n < state.faults.webhookRetries; n++) await once()
  return first
}

export type Deliver = ReturnType<typeof makeDeliver>
