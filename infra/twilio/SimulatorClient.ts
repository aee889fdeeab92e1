/**
 * Points the real twilio SDK at the simulator: a RequestClient that rewrites
 * every request's origin (api.twilio.com and any other Twilio domain) to the
 * simulator's base URL and keeps path and query (and, as for Twilio, keeps a
 * refusal's `Retry-After`: RequestClient.ts).
 */
import twilio from "twilio"
import type BaseRequestClient from "twilio/lib/base/RequestClient.js"
import { TwilioRequestClient } from "./RequestClient.ts"

export class SimulatorRequestClient extends TwilioRequestClient {
  readonly baseUrl: string
  constructor(baseUrl: string) {
    super()
    this.baseUrl = baseUrl.replace(/\/+$/, "")
  }
  override request<TData>(opts: BaseRequestClient.RequestOptions<TData>) {
    const target = new URL(opts.uri)
    return super.request({ ...opts, uri: `${this.baseUrl}${target.pathname}${target.search}` })
  }
}

/** A twilio client talking to the simulator at `baseUrl`. */
export const simulatedTwilio = (baseUrl: string, accountSid: string, authToken: string) =>
  twilio(accountSid, authToken, { httpClient: new SimulatorRequestClient(baseUrl) })
