/**
 * `/sim/*`: what tests and developers script and read (docs/callbacks.md
 * "The simulator"): the calls and texts sent (and what each call's TwiML
 * did), counts, each number's script (its outcome, the keys its Gathers hear),
 * faults (failing REST calls, redelivered webhooks) and a reset.
 */
import type { Hono } from "hono"
import { restStatus } from "./CallRoutes.ts"
import { defaultScript, E164, type Fault, type NumberScript, type Outcome, type SimulatorState } from "./Model.ts"

const OUTCOMES: ReadonlyArray<string> = ["answered", "busy", "no-answer", "failed"]
const SCRIPT_USAGE =
  'PUT /sim/numbers/{e164} with { "outcome"?: "answered" | "busy" | "no-answer" | "failed", "afterMs"?, "talkMs"?, "queueMs"? (0-600000), "errorCode"? (10000-99999; fails the call: outcome failed), "answeredBy"?: "human" | "machine" (outcome answered), "digits"?: keys (1-20 of 0-9 * #) or an array of them, one per <Gather> (outcome answered) }'
const FAULTS_USAGE =
  'PUT /sim/faults with { "calls"?: { "status": 500 | 503 | 429 | 400 | 401 | 403, "code"?: Twilio error code (400, 401, 403 only, e.g. 20003), "count"?, "reads"?: bool (500 | 503: GETs fail too), "retryAfter"?: seconds 0-3600 (429 | 503: sent as Retry-After) }, "messages"?: { "status", "code"?, "count"?, "retryAfter"? }, "createThenFail"?: bool, "webhookRetries"?: 0-5 }'

const KEYS = /^[0-9*#]{1,20}$/

/** The entries of keys a body's `digits` scripts (a string is one entry); undefined when malformed. */
const digitsOf = (value: unknown): ReadonlyArray<string> | undefined => {
  const entries: ReadonlyArray<unknown> | undefined = value === undefined ? [] : typeof value === "string" ? [value] : Array.isArray(value) ? value : undefined
  return entries?.every((entry) => typeof entry === "string" && KEYS.test(entry)) ? (entries as ReadonlyArray<string>) : undefined
}

const ms = (value: unknown, fallback: number) => (value === undefined ? fallback : typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 600_000 ? value : NaN)

/** The script a `PUT /sim/numbers` body asks for; undefined when it is malformed. */
const scriptOf = (body: Record<string, unknown>): NumberScript | undefined => {
  const { outcome, errorCode, answeredBy } = body
  if (outcome !== undefined && !OUTCOMES.includes(String(outcome))) return undefined
  if (errorCode !== undefined && !(Number.isInteger(errorCode) && (errorCode as number) >= 10_000 && (errorCode as number) <= 99_999)) return undefined
  if (answeredBy !== undefined && answeredBy !== "human" && answeredBy !== "machine") return undefined
  const chosen = (outcome ?? (errorCode === undefined ? "answered" : "failed")) as Outcome
  if (errorCode !== undefined && chosen !== "failed") return undefined
  if (answeredBy !== undefined && chosen !== "answered") return undefined
  const digits = digitsOf(body.digits)
  if (digits === undefined || (body.digits !== undefined && chosen !== "answered")) return undefined
  const script: NumberScript = {
    outcome: chosen,
    afterMs: ms(body.afterMs, defaultScript.afterMs),
    talkMs: ms(body.talkMs, defaultScript.talkMs),
    queueMs: ms(body.queueMs, defaultScript.queueMs),
    errorCode: errorCode as number | undefined,
    answeredBy: answeredBy ?? "human",
    digits
  }
  return [script.afterMs, script.talkMs, script.queueMs].some(Number.isNaN) ? undefined : script
}

type FaultSpec = { status?: number; code?: unknown; count?: number; reads?: unknown; retryAfter?: unknown }

/** The fault a spec asks for; null when it is malformed. Only calls have reads, and only a 500 or 503 fails them. */
const faultOf = (spec: FaultSpec | undefined, readable: boolean): Fault | undefined | null => {
  if (spec === undefined) return undefined
  const { status, code } = spec
  if (status !== 500 && status !== 503 && status !== 429 && status !== 400 && status !== 401 && status !== 403) return null
  // a refusal carries its own Twilio code; the server errors keep theirs
  const refusal = status === 400 || status === 401 || status === 403
  if (code !== undefined && !(refusal && typeof code === "number" && Number.isInteger(code) && code >= 10000 && code <= 99999)) return null
  if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 1)) return null
  if (spec.reads !== undefined && typeof spec.reads !== "boolean") return null
  if (spec.reads === true && (!readable || (status !== 500 && status !== 503))) return null
  const { retryAfter } = spec
  if (retryAfter !== undefined && !((status === 429 || status === 503) && typeof retryAfter === "number" && Number.isInteger(retryAfter) && retryAfter >= 0 && retryAfter <= 3600)) return null
  return { status, code, remaining: spec.count, reads: spec.reads === true, ...(retryAfter === undefined ? {} : { retryAfter }) }
}

export const mountControl = (app: Hono, state: SimulatorState) => {
  const newestFirst = <A extends { readonly to: string }>(items: ReadonlyArray<A>, to: string | undefined) => items.filter((item) => to === undefined || item.to === to).toReversed()

  app.get("/sim/messages", (c) =>
    c.json(newestFirst(state.messages, c.req.query("to")).map(({ sid, to, from, body, status, errorCode, createdAt }) => ({ sid, to, from, body, status, errorCode, createdAt })))
  )
  app.get("/sim/calls", (c) =>
    c.json(
      newestFirst(state.calls, c.req.query("to")).map((call) => ({
        sid: call.sid,
        to: call.to,
        from: call.from,
        status: restStatus(call),
        statusCallback: call.statusCallback,
        createdAt: call.createdAt,
        startedAt: call.startedAt,
        endedAt: call.endedAt,
        answeredBy: call.answeredBy,
        errorCode: call.errorCode,
        twiml: call.twiml,
        documents: call.documents,
        said: call.said,
        gathered: call.gathered,
        dialed: call.dialed,
        twimlError: call.twimlError
      }))
    )
  )
  app.get("/sim/stats", (c) =>
    c.json({ calls: state.calls.length, messages: state.messages.length, maxConcurrentCalls: Object.fromEntries(state.maxConcurrent), requests: { ...state.requests } })
  )

  app.put("/sim/numbers/:e164", async (c) => {
    const number = c.req.param("e164")
    const body: unknown = await c.req.json().catch(() => undefined)
    const script = E164.test(number) && typeof body === "object" && body !== null && !Array.isArray(body) ? scriptOf(body as Record<string, unknown>) : undefined
    if (script === undefined) return c.json({ error: SCRIPT_USAGE }, 400)
    state.scripts.set(number, script)
    return c.json(script)
  })

  app.put("/sim/faults", async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { calls?: FaultSpec; messages?: FaultSpec; createThenFail?: boolean; webhookRetries?: unknown } | undefined
    const calls = faultOf(body?.calls, true)
    const messages = faultOf(body?.messages, false)
    const retries = body?.webhookRetries ?? 0
    if (body === undefined || calls === null || messages === null || !(Number.isInteger(retries) && (retries as number) >= 0 && (retries as number) <= 5)) {
      return c.json({ error: FAULTS_USAGE }, 400)
    }
    Object.assign(state.faults, { calls, messages, createThenFail: body.createThenFail === true, webhookRetries: retries })
    return c.json({ ok: true })
  })
  app.delete("/sim/faults", (c) => {
    Object.assign(state.faults, { calls: undefined, messages: undefined, createThenFail: false, webhookRetries: 0 })
    return c.body(null, 204)
  })
  app.post("/sim/reset", (c) => {
    state.reset()
    return c.body(null, 204)
  })
}
