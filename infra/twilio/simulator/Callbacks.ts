/**
 * Delivers webhooks the way Twilio does: form-encoded POSTs signed with
 * `X-Twilio-Signature` over the URL and parameters, each carrying an
 * `I-Twilio-Idempotency-Token` unique to the logical delivery. Status
 * callbacks are delivered again `webhookRetries` times (a fault) with the
 * same token and body, as Twilio does when it retries. A TwiML request may
 * be a GET (a verb's `method="GET"`): its parameters go in the query, and
 * the signature covers that whole URL and no body, as Twilio signs a GET.
 */
import { randomUUID } from "node:crypto"
import twilio from "twilio"
import type { SimulatorState } from "./Model.ts"

export interface Delivery {
  /** Whether the fault's redeliveries apply (status callbacks: yes; the voice URL's TwiML fetch: no). */
  readonly retried: boolean
  /** POST (the default) or GET. */
  readonly method?: "GET" | "POST"
}

/** Sends `params` to `url`; the first delivery's response text, or undefined when it failed. */
export const makeDeliver = (state: SimulatorState) => async (url: string, params: Record<string, string>, delivery: Delivery): Promise<string | undefined> => {
  const get = delivery.method === "GET"
  const query = new URLSearchParams(params).toString()
  const target = get && query !== "" ? `${url}${url.includes("?") ? "&" : "?"}${query}` : url
  const signature = twilio.getExpectedTwilioSignature(state.options.authToken, target, get ? {} : params)
  const headers: Record<string, string> = { "X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": randomUUID() }
  if (!get) headers["Content-Type"] = "application/x-www-form-urlencoded"
  const once = async (): Promise<string | undefined> => {
    try {
      const response = await fetch(target, get ? { method: "GET", headers } : { method: "POST", headers, body: query })
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
