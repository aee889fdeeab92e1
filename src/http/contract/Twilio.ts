/**
 * The webhooks Twilio calls (API.md "Twilio webhooks"): form-encoded bodies
 * of Twilio's parameters, TwiML or an empty 204 back. Each needs a valid
 * `X-Twilio-Signature` (checked before anything else: routes/TwilioWebhooks.ts).
 *
 * Twilio sends many more parameters than these and may vary the formats of
 * some; a report is never refused for its parameters. A parameter this app
 * reads is used only when it has the form described, and otherwise counts as
 * absent (only what Twilio's formats allow reaches the database).
 */
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { route } from "../Contract.ts"

/** `schema`'s value when the text decodes through it, else absent; documented as `schema` (or as `wire`, the text it takes). */
const Tolerant = <A, I extends string>(schema: Schema.Schema<A, I>, description: string, wire?: Record<string, unknown>) => {
  const { $schema: _, ...documented }: Record<string, unknown> = wire ?? { ...JSONSchema.make(schema) }
  return Schema.optional(
    Schema.transformOrFail(Schema.String, Schema.UndefinedOr(Schema.typeSchema(schema)), {
      strict: true,
      decode: (text) => ParseResult.succeed(Option.getOrUndefined(Schema.decodeUnknownOption(schema)(text))),
      encode: (value) => (value === undefined ? ParseResult.succeed("") : ParseResult.encode(schema)(value))
    }).annotations({ jsonSchema: { ...documented, description: `${description} (another value is ignored)` } })
  )
}

export const CallSid = Schema.String.pipe(Schema.pattern(/^CA[0-9a-fA-F]{32}$/))

/** Twilio's CallStatus values (`answered` is what some status callback events report). */
export const CallStatus = Schema.Literal("queued", "initiated", "ringing", "in-progress", "answered", "completed", "busy", "no-answer", "failed", "canceled")

/** Twilio's report counter of one call or message: reports may arrive out of order. */
const SequenceNumber = Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 2 ** 31 - 1))
const SequenceText = { type: "string", pattern: "^\\d{1,10}$" }

const ErrorCode = Schema.String.pipe(Schema.pattern(/^\d{1,10}$/))

/** A MessageStatus word: Twilio's set grows now and then, so any lower-case word is taken. */
const MessageStatus = Schema.String.pipe(Schema.pattern(/^[a-z-]{1,20}$/))

/** Every other parameter Twilio sends (AccountSid, From, To, CallDuration, ...): accepted and ignored. */
const OtherParams = Schema.Record({ key: Schema.String, value: Schema.Unknown.annotations({ jsonSchema: { type: "string" } }) })

export const CallParams = Schema.Struct(
  {
    CallSid: Tolerant(CallSid, "the call's sid: CA and 32 hex digits"),
    CallStatus: Tolerant(CallStatus, "the call's status"),
    SequenceNumber: Tolerant(SequenceNumber, "the order of this call's status reports, from 0", SequenceText),
    ErrorCode: Tolerant(ErrorCode, "Twilio's error code, when the call failed")
  },
  OtherParams
).annotations({ identifier: "TwilioCallParams", description: "the parameters of a Twilio voice request or call status callback, form-encoded" })

/** What Twilio posts to a `<Gather>`'s action: the call's parameters and the keys pressed. */
export const GatherParams = Schema.Struct(
  {
    ...CallParams.fields,
    Digits: Tolerant(Schema.String.pipe(Schema.pattern(/^[0-9*#]{0,40}$/)), "the keys the agent pressed")
  },
  OtherParams
).annotations({ identifier: "TwilioGatherParams", description: "the parameters of a Twilio `<Gather>` action request, form-encoded" })

export const MessageParams = Schema.Struct(
  {
    MessageStatus: Tolerant(MessageStatus, "the message's status: queued, sent, delivered, undelivered, failed, ..."),
    SmsStatus: Tolerant(MessageStatus, "the older name of MessageStatus, read when MessageStatus is absent"),
    SequenceNumber: Tolerant(SequenceNumber, "the order of this message's status reports", SequenceText),
    ErrorCode: Tolerant(ErrorCode, "Twilio's error code, when the message failed or was undelivered")
  },
  OtherParams
).annotations({ identifier: "TwilioMessageParams", description: "the parameters of a Twilio message status callback, form-encoded" })

const IdempotencyToken = Schema.String.pipe(Schema.pattern(/^[\x21-\x7e]{1,200}$/))

/**
 * Twilio marks each logical delivery of a webhook with a token, the same on every retry of it. A token of
 * another form (empty, too long) counts as absent, and the report is applied as one without a token (still
 * only forward).
 */
export const DeliveryHeaders = Schema.Struct({
  "I-Twilio-Idempotency-Token": Schema.optional(
    Schema.transformOrFail(
      Schema.String.annotations({
        description: "the same on every retry of one delivery: a report whose token was applied already is answered 204 and changes nothing (1 to 200 visible ASCII characters; another value is ignored)"
      }),
      Schema.UndefinedOr(Schema.typeSchema(IdempotencyToken)),
      {
        strict: true,
        decode: (text) => ParseResult.succeed(Option.getOrUndefined(Schema.decodeUnknownOption(IdempotencyToken)(text))),
        encode: (value) => ParseResult.succeed(value ?? "")
      }
    )
  )
})

const AttemptParams = Schema.Struct({ attemptId: Schema.String.annotations({ description: "the call attempt's id (a UUID; another id is a 404)" }) })
/** Which version of the flow the call plays, and how often the menu was heard again; in the URLs this app gives Twilio. */
const FlowQuery = Schema.Struct({
  v: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 1_000_000)).annotations({ description: "the flow's version the call plays (0: the default flow)" })),
  r: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 10)).annotations({ description: "how often the menu was heard again" }))
})

const MessagePath = Schema.Struct({ messageId: Schema.String.annotations({ description: "the text message's id (a UUID; another id is a 404)" }) })

const FORM = "application/x-www-form-urlencoded"
const tags = ["twilio"]
const problems = ["forbidden", "not-found", "malformed-body", "payload-too-large", "unavailable"] as const

export const voiceWebhook = route({
  method: "post",
  path: "/twilio/voice/{attemptId}",
  operationId: "twilioVoice",
  summary: "TwiML for an answered call: announces the callback and bridges the visitor (only for the request's current call).",
  tags,
  security: "twilio",
  params: AttemptParams,
  body: { schema: CallParams, contentType: FORM },
  responses: { 200: { description: "TwiML", contentType: "text/xml", text: true } },
  problems: [...problems]
})

export const gatherWebhook = route({
  method: "post",
  path: "/twilio/gather/{attemptId}",
  operationId: "twilioGather",
  summary: "TwiML answering the agent's key in the call flow's menu: bridge, goodbye, or a move to another department.",
  tags,
  security: "twilio",
  params: AttemptParams,
  query: FlowQuery,
  body: { schema: GatherParams, contentType: FORM },
  responses: { 200: { description: "TwiML", contentType: "text/xml", text: true } },
  problems: ["validation", ...problems]
})

export const visitorWebhook = route({
  method: "post",
  path: "/twilio/visitor/{attemptId}",
  operationId: "twilioVisitor",
  summary: "TwiML the visitor hears on picking up, before the bridge connects them (the call flow's `visitor`).",
  tags,
  security: "twilio",
  params: AttemptParams,
  query: FlowQuery,
  body: { schema: CallParams, contentType: FORM },
  responses: { 200: { description: "TwiML", contentType: "text/xml", text: true } },
  problems: ["validation", ...problems]
})

export const callStatusWebhook = route({
  method: "post",
  path: "/twilio/status/call/{attemptId}",
  operationId: "twilioCallStatus",
  summary: "A call status callback: applied once and only forward, whatever the order and the duplicates.",
  tags,
  security: "twilio",
  params: AttemptParams,
  headers: DeliveryHeaders,
  body: { schema: CallParams, contentType: FORM },
  responses: { 204: { description: "Taken (a duplicate, a late report or an attempt this app does not know changes nothing)" } },
  problems: [...problems]
})

export const messageStatusWebhook = route({
  method: "post",
  path: "/twilio/status/sms/{messageId}",
  operationId: "twilioMessageStatus",
  summary: "A text message status callback: applied once and only forward.",
  tags,
  security: "twilio",
  params: MessagePath,
  headers: DeliveryHeaders,
  body: { schema: MessageParams, contentType: FORM },
  responses: { 204: { description: "Taken (a duplicate, a late report or a message this app does not know changes nothing)" } },
  problems: [...problems]
})

export const twilioRoutesContract = [voiceWebhook, gatherWebhook, visitorWebhook, callStatusWebhook, messageStatusWebhook]
