/**
 * `Messages.json`: create and fetch as Twilio's REST API answers them, and
 * delivery: `queued -> sent -> delivered`, or, when the number's script names
 * an `errorCode`, `queued -> sent -> undelivered` for a carrier's code
 * (30001-30999) and `queued -> failed` for any other. Status callbacks carry
 * `ErrorCode` on failures and no `SequenceNumber` (Twilio sends none for texts).
 */
import type { Hono } from "hono"
import type { Deliver } from "./Callbacks.ts"
import { authorized, E164, faultFor, faultResponse, form, type MessageStatus, newSid, restError, rfc2822At, type SimMessage, type SimulatorState } from "./Model.ts"

const MAX_BODY = 1600
const isCarrierCode = (code: number) => code >= 30001 && code <= 30999

export const mountMessages = (app: Hono, state: SimulatorState, deliver: Deliver) => {
  const messagesUri = `/2010-04-01/Accounts/${state.options.accountSid}/Messages`

  const messageJson = (message: SimMessage) => ({
    body: message.body,
    num_segments: String(Math.max(1, Math.ceil(message.body.length / 153))),
    direction: "outbound-api",
    from: message.from,
    to: message.to,
    date_updated: rfc2822At(message.updatedAt),
    price: null,
    error_message: message.errorCode === undefined ? null : `Twilio error ${message.errorCode}`,
    uri: `${messagesUri}/${message.sid}.json`,
    account_sid: state.options.accountSid,
    num_media: "0",
    status: message.status,
    messaging_service_sid: null,
    sid: message.sid,
    date_sent: rfc2822At(message.sentAt),
    date_created: rfc2822At(message.createdAt),
    error_code: message.errorCode ?? null,
    price_unit: "USD",
    api_version: "2010-04-01",
    subresource_uris: { media: `${messagesUri}/${message.sid}/Media.json` }
  })

  const moveTo = async (message: SimMessage, status: MessageStatus) => {
    const now = new Date().toISOString()
    message.status = status
    message.updatedAt = now
    if (status === "sent") message.sentAt = now
    if (message.statusCallback === undefined) return
    const failed = status === "failed" || status === "undelivered"
    await deliver(
      message.statusCallback,
      {
        AccountSid: state.options.accountSid,
        MessageSid: message.sid,
        SmsSid: message.sid,
        From: message.from,
        To: message.to,
        MessageStatus: status,
        SmsStatus: status,
        ApiVersion: "2010-04-01",
        ...(failed && message.errorCode !== undefined ? { ErrorCode: String(message.errorCode) } : {})
      },
      { retried: true }
    )
  }

  app.post("/2010-04-01/Accounts/:account/Messages.json", async (c) => {
    state.requests.messages++
    if (!authorized(state, c.req.header("authorization"), c.req.param("account"))) return restError(401, 20003, "Authenticate")
    const params = await form(c.req.raw)
    const fault = faultFor(state, "messages")
    if (fault !== undefined) return faultResponse(fault)
    const to = params.get("To") ?? ""
    const from = params.get("From") ?? ""
    const body = params.get("Body") ?? ""
    if (to === "") return restError(400, 21604, "A 'To' phone number is required.")
    if (!E164.test(to)) return restError(400, 21211, `Invalid 'To' Phone Number: ${to}`)
    if (from === "") return restError(400, 21603, "A 'From' phone number is required.")
    if (!E164.test(from)) return restError(400, 21212, `Invalid 'From' Phone Number: ${from}`)
    if (body === "") return restError(400, 21602, "Message body is required.")
    if (body.length > MAX_BODY) return restError(400, 21617, `The concatenated message body exceeds the ${MAX_BODY} character limit.`)
    const now = new Date().toISOString()
    const errorCode = state.scripts.get(to)?.errorCode
    const message: SimMessage = {
      sid: newSid("SM"),
      to,
      from,
      body,
      status: "queued",
      statusCallback: params.get("StatusCallback") ?? undefined,
      createdAt: now,
      updatedAt: now,
      sentAt: undefined,
      errorCode: undefined
    }
    state.messages.push(message)
    if (errorCode === undefined) {
      state.later(20, () => moveTo(message, "sent"))
      state.later(40, () => moveTo(message, "delivered"))
    } else if (isCarrierCode(errorCode)) {
      state.later(20, () => moveTo(message, "sent"))
      state.later(40, () => {
        message.errorCode = errorCode
        return moveTo(message, "undelivered")
      })
    } else {
      state.later(20, () => {
        message.errorCode = errorCode
        return moveTo(message, "failed")
      })
    }
    return c.json(messageJson(message), 201)
  })

  app.get("/2010-04-01/Accounts/:account/Messages/:file", (c) => {
    state.requests.messageReads++
    if (!authorized(state, c.req.header("authorization"), c.req.param("account"))) return restError(401, 20003, "Authenticate")
    const message = state.messages.find((candidate) => `${candidate.sid}.json` === c.req.param("file"))
    return message === undefined ? restError(404, 20404, `The requested resource ${c.req.path} was not found`) : c.json(messageJson(message))
  })
}
