/**
 * Property tests of the callback platform's HTTP surface (API.md "Public",
 * "Admin", "Twilio webhooks") against one running app: any JSON body, query
 * string and headers a client can send to a route gets a 2xx or a 4xx, never
 * a 5xx, and every 4xx is a problem document (`application/problem+json`,
 * `type` under /problems/, `status` the HTTP status). Ids mix the real ones
 * (a business, requests in several states, an attempt, a text message) with
 * strangers. Unsigned Twilio webhooks are refused (403) whatever they carry
 * and change nothing. Idempotent creates replay or refuse consistently. After
 * all of it the app is still ready.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually, query } from "../../support/database.ts"
import { pct, serialize } from "../../support/fuzz.ts"

const BODY_LIMIT = 64 * 1024
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** 9999-12-31T23:59:59.999999Z in microseconds: the latest time a callbacks cursor may name. */
const LAST_CURSOR_MICROS = 253_402_300_799_999_999n
const STATUSES = ["pending_verification", "queued", "dialing", "retry_scheduled", "escalated", "connected", "completed", "failed", "cancelled", "expired"]

let app: CallbackApp
let databaseUrl: string

/** Real ids the generators mix in once the app is up (read lazily, through `fc.nat()` indices). */
const real = {
  businesses: [] as Array<string>,
  callbacks: [] as Array<string>,
  attempts: [] as Array<string>,
  messages: [] as Array<string>,
  phones: [] as Array<string>,
  endpoints: [] as Array<string>
}
/** The first business's keys, and a webhook endpoint of the second, which its keys must never reach. */
const keys = { secret: "", publishable: "", foreignEndpoint: "" }

beforeAll(async () => {
  databaseUrl = await cloneDatabase()
  app = await startCallbackApp({
    databaseUrl,
    env: { RATE_LIMIT_CREATE_PER_PHONE: "1000/1h", RATE_LIMIT_CREATE_PER_IP: "100000/10m", RATE_LIMIT_VERIFY_PER_IP: "100000/10m", CALLBACK_RETRY_DELAYS: "10m" }
  })
  const plain = await app.createBusiness()
  const closed = await app.createBusiness({ hours: { sun: [["00:00", "00:01"]] }, timezone: "Pacific/Kiritimati", country: "DE", escalation: [{ phone: freshNumber(), ringSeconds: 10 }] })
  await app.script(plain.phone, "answered", { afterMs: 600_000 })
  const pending = await app.create(plain.id)
  const dialing = await app.verified(plain.id)
  await app.waitForStatus(dialing.id, "dialing")
  const cancelled = await app.create(closed.id)
  const cancel = await app.request(`/admin/api/callbacks/${cancelled.id}/cancel`, { method: "POST", admin: true })
  expect(cancel.status).toBe(200)
  const [attempt] = await eventually(
    async () => {
      const rows = await query<{ id: string }>(databaseUrl, "SELECT id FROM call_attempts WHERE callback_id = $1 AND status = 'ringing'", [dialing.id])
      return rows.length > 0 ? rows : undefined
    },
    10_000,
    "the fixture's call to ring"
  )
  const messages = await eventually(
    async () => {
      const rows = await query<{ id: string }>(databaseUrl, "SELECT id FROM sms_messages WHERE status = 'delivered'")
      return rows.length >= 2 ? rows : undefined
    },
    10_000,
    "the fixture's texts to be delivered"
  )
  real.businesses.push(plain.id, closed.id)
  real.callbacks.push(pending.id, dialing.id, cancelled.id)
  real.attempts.push(attempt?.id ?? "")
  real.messages.push(...messages.map((m) => m.id))
  real.phones.push(pending.phone, dialing.phone, plain.phone)
  const issue = async (businessId: string, kind: string) =>
    ((await (await app.request(`/admin/api/businesses/${businessId}/keys`, { method: "POST", admin: true, body: JSON.stringify({ kind }) })).json()) as { key: string }).key
  keys.secret = await issue(plain.id, "secret")
  keys.publishable = await issue(plain.id, "publishable")
  const endpoint = async (businessId: string) =>
    ((await (await app.request(`/admin/api/businesses/${businessId}/webhooks`, { method: "POST", admin: true, body: JSON.stringify({ url: "http://127.0.0.1:9/" }) })).json()) as { id: string }).id
  keys.foreignEndpoint = await endpoint(closed.id)
  real.endpoints.push(await endpoint(plain.id), keys.foreignEndpoint)
})
afterAll(() => app?.dispose())

// ---------------------------------------------------------------- generators


/** One of the real ids of `pool` (chosen when the run starts, after beforeAll filled it). */
const realId = (pool: keyof typeof real): fc.Arbitrary<string> => fc.nat().map((i) => real[pool][i % Math.max(1, real[pool].length)] ?? "")

/** Strings that trouble parsers and databases: NUL, lone surrogates, quotes, `%`, bidi and emoji. */
const nastyString: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof(fc.constantFrom("\u0000", "\ud800", "\udfff", "%", "\u202e", "'", '"', "\\", "😀", "\n", "\t", "é", "\u2028", "\ufeff", "\uffff", "\u001f", "\u007f"), fc.char()),
  maxLength: 16
})

const hugeString: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 95, max: 105 }).map((n) => "a".repeat(n)),
  fc.integer({ min: 495, max: 505 }).map((n) => "n".repeat(n)),
  fc.integer({ min: 1_000, max: 20_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: BODY_LIMIT - 64, max: BODY_LIMIT + 2_000 }).map((n) => "y".repeat(n)),
  fc.integer({ min: 50, max: 300 }).map((n) => "😀".repeat(n))
)

/** A value of any type, the edges of the right ones included. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 31, -(2 ** 53), 1e308, "", " ", "null", "[]", "{}", "__proto__", "constructor") },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 5 }) }
)

const phoneText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null).map(() => freshNumber()) },
  { weight: 1, arbitrary: realId("phones") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "+14155552671",
      "(415) 555-2671",
      "415.555.2671",
      "+1 415 555 2671",
      "004915123456789",
      "+4915123456789",
      "015123456789",
      "+442071838750",
      "+447700900123",
      "+19005550123",
      "+1",
      "+",
      "0",
      "911",
      "+999999999999999",
      "+1415555267１",
      "+1415555267\u0000",
      "tel:+14155552671",
      "+14155552671;ext=1",
      "  +14155552671  "
    )
  },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(..."+0123456789 -()."), maxLength: 25 }) },
  { weight: 1, arbitrary: nastyString }
)

/** A field set of `valid`, with up to `n` fields replaced by `edge` values (or any value), removed, or a stranger added. */
const mutated = (
  valid: fc.Arbitrary<Record<string, unknown>>,
  edges: Readonly<Record<string, fc.Arbitrary<unknown>>>,
  n = 3
): fc.Arbitrary<Record<string, unknown>> => {
  const fields = Object.keys(edges)
  const change = fc.constantFrom(...fields, "extra", "__proto__", "id", "").chain((field) =>
    fc.tuple(fc.constant(field), fc.option(fc.oneof(edges[field] ?? anyValue, anyValue), { nil: undefined, freq: 6 }))
  )
  return fc.tuple(valid, fc.array(change, { maxLength: n })).map(([base, changes]) => {
    const body: Record<string, unknown> = { ...base }
    for (const [field, value] of changes) {
      if (value === undefined) delete body[field]
      else Object.defineProperty(body, field, { value, enumerable: true, writable: true, configurable: true })
    }
    return body
  })
}

const callbackBody = mutated(
  fc.record(
    {
      businessId: fc.oneof({ weight: 4, arbitrary: realId("businesses") }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: realId("callbacks") }),
      phone: phoneText,
      name: fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: "grapheme", maxLength: 30 })),
      note: fc.string({ maxLength: 500 })
    },
    { requiredKeys: ["businessId", "phone"] }
  ),
  { businessId: fc.oneof(fc.uuid(), nastyString), phone: phoneText, name: fc.oneof(nastyString, hugeString), note: fc.oneof(nastyString, hugeString) }
)

const TIME_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe", "America/St_Johns", "Etc/GMT+12", "Etc/GMT-14", "EST5EDT", "utc"]
const timeText: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`),
  fc.constantFrom("24:00", "00:00", "23:59", "24:01", "9:00", "09:0", "25:00", "", "noon", "09:00:00")
)
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const
const validHours = fc.dictionary(
  fc.constantFrom(...DAYS),
  fc.constantFrom([["09:00", "17:00"]], [["00:00", "24:00"]], [["08:00", "12:00"], ["13:00", "18:00"]], [["22:00", "24:00"], ["00:00", "02:00"]], []),
  { maxKeys: 7 }
)
const edgeHours: fc.Arbitrary<unknown> = fc.oneof(
  fc.dictionary(fc.constantFrom(...DAYS), fc.array(fc.tuple(timeText, timeText), { maxLength: 3 }), { maxKeys: 7 }),
  fc.dictionary(fc.oneof(fc.constantFrom("mon", "Mon", "monday", "__proto__", "constructor", "toString"), fc.string({ maxLength: 5 })), anyValue, { maxKeys: 3 }),
  fc.dictionary(fc.constantFrom(...DAYS), fc.array(anyValue, { maxLength: 3 }), { maxKeys: 3 })
)
const validPhone: fc.Arbitrary<string> = fc.oneof(fc.constant(null).map(() => freshNumber()), fc.constantFrom("+14155552671", "+4915123456789", "+442071838750", "(415) 555-2671"))
const validEscalation = fc.array(fc.record({ phone: validPhone, ringSeconds: fc.integer({ min: 5, max: 120 }) }, { requiredKeys: ["phone"] }), { maxLength: 3 })
const edgeEscalation: fc.Arbitrary<unknown> = fc.oneof(
  fc.array(fc.record({ phone: phoneText, ringSeconds: fc.oneof(fc.integer({ min: -1, max: 700 }), anyValue) }, { requiredKeys: [] }), { maxLength: 4 }),
  fc.array(validPhone.map((phone) => ({ phone, ringSeconds: 10 })), { minLength: 10, maxLength: 12 }),
  fc.array(anyValue, { maxLength: 12 })
)

const businessFields = {
  name: fc.string({ minLength: 1, maxLength: 60 }),
  phone: validPhone,
  timezone: fc.constantFrom(...TIME_ZONES),
  country: fc.constantFrom("US", "DE", "GB", "FR", "JP"),
  hours: validHours,
  escalation: validEscalation,
  ringSeconds: fc.integer({ min: 5, max: 120 }),
  maxConcurrentCalls: fc.integer({ min: 1, max: 1_000 }),
  vipPhones: fc.array(validPhone, { maxLength: 3 }),
  smsFallback: fc.boolean()
}
const businessEdges: Record<keyof typeof businessFields, fc.Arbitrary<unknown>> = {
  name: fc.oneof(nastyString, hugeString, fc.constantFrom("", " ", null)),
  phone: phoneText,
  timezone: fc.oneof(fc.constantFrom("Mars/Olympus", "+01:00", "GMT+1", "Z", "", "Factory", "europe/berlin", "US/Pacific-New", "Asia/Calcutta"), nastyString),
  country: fc.oneof(fc.constantFrom("us", "XX", "USA", "", "ZZ", "AC", "001", "EU", "UK", null), nastyString),
  hours: edgeHours,
  escalation: edgeEscalation,
  ringSeconds: fc.oneof(fc.integer({ min: -1, max: 700 }), fc.constantFrom(4, 5, 120, 121, 600, 601, 5.5, 2 ** 31, "10")),
  maxConcurrentCalls: fc.oneof(fc.integer({ min: -1, max: 1_001 }), fc.constantFrom(0, 1_001, 2 ** 31, 1.5, "2")),
  vipPhones: fc.oneof(fc.array(phoneText, { maxLength: 4 }), fc.constantFrom(null, "+14155552671", [])),
  smsFallback: fc.constantFrom(null, "true", 1, 0)
}
/** Create bodies: all the fields, most of them right. */
const businessBody = mutated(fc.record(businessFields, { requiredKeys: ["name", "phone", "timezone"] }), businessEdges, 2)
/** Patch bodies: some of the fields. */
const businessPatch = mutated(fc.record(businessFields, { requiredKeys: [] }), businessEdges, 2)

/** Body text: mostly the route's shape, else any JSON, any value, raw text, or too much of it. */
const bodyText = (shaped: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 8, arbitrary: shaped.map(serialize) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(serialize) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }).map(serialize) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 100 }) },
    { weight: 1, arbitrary: fc.constantFrom("", " ", "{", "[", "null", "{}", "[]", '""', "\u0000", "\ufeff{}", '{"a":1}{"b":2}', '{"__proto__":{"x":1}}', "1e999") },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 32, max: BODY_LIMIT + 2_000 }).map((n) => `{"note":"${"z".repeat(n)}"}`) }
  )

/** Path segments: real ids, other uuids, and odd ones (raw, or percent-encoded generated text). */
const idSegment = (pool: keyof typeof real): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 5, arbitrary: realId(pool) },
    { weight: 1, arbitrary: realId(pool).map((id) => id.toUpperCase()) },
    { weight: 1, arbitrary: realId(pool).map((id) => `${id}x`) },
    { weight: 2, arbitrary: fc.oneof(realId("businesses"), realId("callbacks"), realId("attempts"), realId("messages")) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom("%", "%zz", "%00", "%C0%AF", "%FF", "%2F", "..", "%20", "+", "__proto__", "-1", "0", "null", "%ED%A0%80", "a;b", "😀", "ü") },
    { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map(pct) },
    { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 20 }).map(pct) }
  )

const queryValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...STATUSES, "1", "2", "50", "500", "501", "0", "-1", "1.5", "abc", "", "9999999999999999999", "0001", "%", "%00", "%zz", "%ED%A0%80") },
  { weight: 2, arbitrary: fc.oneof(realId("businesses"), realId("callbacks"), realId("phones"), fc.uuid()) },
  {
    weight: 1,
    // cursors of any time, past the year 9999 too (those are a 400)
    arbitrary: fc
      .tuple(
        fc.oneof(fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }).map(String), fc.constantFrom("0", "1", String(LAST_CURSOR_MICROS), String(LAST_CURSOR_MICROS + 1n))),
        fc.oneof(realId("callbacks"), fc.uuid())
      )
      .map(([ms, id]) => `${ms}.${id}`)
  },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) }
)

/** A query string of `names` (and strangers), raw or percent-encoded, sometimes with a name repeated. */
const queryString = (names: ReadonlyArray<string>): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...names, ...names), queryValue), { maxLength: 4 }),
      fc.array(fc.tuple(fc.string({ unit: "binary-ascii", maxLength: 8 }), queryValue), { maxLength: 2 }),
      fc.boolean()
    )
    .map(([known, strangers, encode]) => {
      const pairs = [...known, ...strangers]
      return pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => (encode ? `${pct(k)}=${pct(v)}` : `${k}=${v}`)).join("&")}`
    })

/** Header text fetch sends as it is: visible ASCII, Latin-1 and tabs. */
const headerText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof(fc.char(), fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), fc.constant("\t")), maxLength })

const idempotencyKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("key-1", "key-2", "key-3", "key-4", "key-5") },
  { weight: 2, arbitrary: fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom("k".repeat(200), "k".repeat(201), "a b", "ключ", "\tkey", "", "é") },
  { weight: 1, arbitrary: headerText(220) }
)

const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    "content-type": fc.oneof(
      fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", ";;;"),
      headerText(40)
    ),
    "x-forwarded-for": fc.oneof(fc.constantFrom("1.2.3.4", "::1", "1.2.3.4, 5.6.7.8", "unknown", ""), headerText(60)),
    "x-request-id": headerText(40),
    "content-encoding": fc.constantFrom("gzip", "identity", "bogus"),
    accept: fc.constantFrom("*/*", "application/json", "text/html", "")
  },
  { requiredKeys: [] }
)

/** The admin token most of the time; otherwise something else, or nothing. */
const adminAuth: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(`Bearer ${ADMIN_TOKEN}`) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, "Bearer", "Bearer ", `bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, ADMIN_TOKEN, "Basic Zm9vOmJhcg==") },
  { weight: 1, arbitrary: headerText(60).map((t) => `Bearer ${t}`) }
)

// ---------------------------------------------------------------- checks

interface Sent {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string | undefined>
  readonly body: string | undefined
}

/** Sends `r` and checks what holds for every response; returns the response, its text and the URL fetch used. */
const send = async (r: Sent) => {
  let prepared: Request
  try {
    const headers = Object.fromEntries(Object.entries(r.headers).filter((entry): entry is [string, string] => entry[1] !== undefined))
    prepared = new Request(app.baseUrl + r.path, { method: r.method, headers, body: r.body })
  } catch {
    fc.pre(false) // a request fetch refuses to build: not one a client can send
    throw new Error("unreachable")
  }
  const response = await app.fetch(prepared)
  const text = await response.text()
  const label = `${r.method} ${r.path.slice(0, 300)} ${JSON.stringify(r.headers).slice(0, 300)} ${(r.body ?? "").slice(0, 300)} -> ${response.status} ${text.slice(0, 500)}`
  expect(response.status, label).toBeGreaterThanOrEqual(200)
  expect(response.status, label).toBeLessThan(500)
  expect(response.status >= 300 && response.status < 400, label).toBe(false)
  if (r.body !== undefined && new TextEncoder().encode(r.body).length > BODY_LIMIT) expect(response.status, label).toBe(413)
  // only a body sent as anything but JSON is refused as such (a form or text/plain post from another site)
  if (response.status === 415) expect((r.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase(), label).not.toBe("application/json")
  if (response.status >= 400) {
    expect(response.headers.get("content-type"), label).toBe("application/problem+json")
    const problem = JSON.parse(text) as { type?: unknown; status?: unknown; title?: unknown }
    expect(typeof problem.type === "string" && problem.type.startsWith("/problems/"), label).toBe(true)
    expect(problem.status, label).toBe(response.status)
    expect(typeof problem.title, label).toBe("string")
    if (response.status === 429) expect(response.headers.get("retry-after"), label).toMatch(/^\d+$/)
  } else if (response.status !== 204) {
    expect(response.headers.get("content-type"), label).toMatch(/^application\/json/)
    expect(() => JSON.parse(text) as unknown, label).not.toThrow()
  }
  return { response, text, label, url: new URL(prepared.url) }
}

const expectStatus = (status: number, allowed: ReadonlyArray<number>, label: string) => expect(allowed, label).toContain(status)

/** What an admin request may answer besides its own statuses: the token refused, a body too large. */
const authStatuses = (auth: string | undefined) => (auth === `Bearer ${ADMIN_TOKEN}` ? [] : [401, 403])

const runs = (numRuns: number) => ({ numRuns, interruptAfterTimeLimit: 12_000, markInterruptAsFailure: false })

// ---------------------------------------------------------------- properties

describe("the callback platform's HTTP surface under arbitrary requests", () => {
  it("POST /v1/callbacks: any body, query and headers (Idempotency-Key too) answer 2xx or a 4xx problem; keys replay or refuse", async () => {
    /** Canonical JSON of a body (object keys sorted), as the idempotency store compares bodies. */
    const canonical = (value: unknown): string => {
      const sort = (v: unknown): unknown =>
        Array.isArray(v)
          ? v.map(sort)
          : typeof v === "object" && v !== null
            ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]))
            : v
      return JSON.stringify(sort(value))
    }
    const accepted = new Map<string, { body: string; canonical: string; id: string }>()
    await fc.assert(
      fc.asyncProperty(
        bodyText(callbackBody),
        fc.option(idempotencyKey, { nil: undefined, freq: 2 }),
        fc.oneof(fc.constant(""), queryString(["businessId", "phone", "id"])),
        extraHeaders,
        fc.option(fc.nat(), { nil: undefined, freq: 8 }),
        adminAuth,
        async (body, key, search, headers, replayIndex, auth) => {
          // now and then, the very body an earlier key was accepted with, again (as JSON, with the admin token)
          const previous = replayIndex === undefined ? undefined : [...accepted.entries()][replayIndex % Math.max(1, accepted.size)]
          const sentKey = previous?.[0] ?? key
          const sentBody = previous?.[1].body ?? body
          const sentHeaders = previous !== undefined ? { ...headers, "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` } : { ...headers, authorization: auth }
          const { response, text, label } = await send({
            method: "POST",
            path: `/v1/callbacks${previous !== undefined ? "" : search}`,
            headers: { ...sentHeaders, "idempotency-key": sentKey },
            body: sentBody
          })
          // without a key or the admin token, 401; a body that is not JSON, 415
          expectStatus(response.status, [202, 400, 401, 403, 404, 409, 413, 415, 422, 429], label)
          const known = sentKey === undefined ? undefined : accepted.get(sentKey)
          let parsed: unknown
          try {
            parsed = JSON.parse(new TextDecoder().decode(new TextEncoder().encode(sentBody ?? ""))) as unknown
          } catch {
            parsed = undefined
          }
          const same = known !== undefined && parsed !== undefined && canonical(parsed) === known.canonical
          if (previous !== undefined) {
            expect(response.status, label).toBe(202)
            expect(response.headers.get("idempotent-replayed"), label).toBe("true")
            expect((JSON.parse(text) as { id: string }).id, label).toBe(previous[1].id)
          }
          if (response.status === 422) {
            expect((JSON.parse(text) as { type: string }).type, label).toBe("/problems/idempotency-mismatch")
            expect(known !== undefined && !same, label).toBe(true)
          }
          if (response.status === 202) {
            const created = JSON.parse(text) as { id: string; status: string; verification: { channel: string; expiresAt: string } }
            expect(created.id, label).toMatch(UUID)
            expect(created.status, label).toBe("pending_verification")
            expect(created.verification.channel, label).toBe("sms")
            if (known !== undefined) {
              expect(same, label).toBe(true)
              expect(created.id, label).toBe(known.id)
              expect(response.headers.get("idempotent-replayed"), label).toBe("true")
            } else {
              expect(response.headers.get("idempotent-replayed"), label).toBeNull()
              if (sentKey !== undefined) accepted.set(sentKey, { body: sentBody ?? "", canonical: canonical(parsed), id: created.id })
              real.callbacks.push(created.id)
            }
          }
        }
      ),
      runs(250)
    )
  })

  it("verification, resend, GET /v1/callbacks/{id} and its events: any id, body, query and headers answer 2xx or a 4xx problem", async () => {
    const verifyBody = mutated(
      fc.record({ code: fc.integer({ min: 0, max: 999_999 }).map((n) => String(n).padStart(6, "0")) }),
      { code: fc.oneof(fc.string({ maxLength: 25 }), nastyString, fc.integer(), fc.constantFrom(" 123456 ", "１２３４５６", "12345", "1234567", "")) },
      2
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"verification" | "resend" | "view" | "events">("verification", "resend", "view", "events"),
        idSegment("callbacks"),
        bodyText(verifyBody),
        fc.oneof(fc.constant(""), queryString(["code", "id", "after", "key"])),
        extraHeaders,
        async (route, id, body, search, headers) => {
          const path = { view: `/v1/callbacks/${id}`, events: `/v1/callbacks/${id}/events`, resend: `/v1/callbacks/${id}/verification/resend`, verification: `/v1/callbacks/${id}/verification` }[route]
          const read = route === "view" || route === "events"
          const { response, label, url } = await send({ method: read ? "GET" : "POST", path: path + search, headers, body: read ? undefined : body })
          const allowed = { view: [200, 404], events: [200, 400, 404], resend: [202, 404, 409, 410, 413, 429], verification: [200, 400, 404, 409, 410, 413, 415, 429] }[route]
          // a credential is read on every public route, and one that is not a key or the admin token is refused
          expectStatus(response.status, url.searchParams.has("key") ? [...allowed, 401] : allowed, label)
          // only a real request's id finds one
          if (response.status < 300 && route !== "verification") expect(real.callbacks.some((known) => url.pathname.toLowerCase().includes(known)), label).toBe(true)
        }
      ),
      runs(250)
    )
  })

  it("admin businesses (create, list, read, patch): any body, query and headers answer 2xx or a 4xx problem", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"create" | "list" | "read" | "patch">("create", "create", "list", "read", "patch", "patch"),
        idSegment("businesses"),
        fc.boolean().chain((patch) => bodyText(patch ? businessPatch : businessBody)),
        fc.oneof(fc.constant(""), queryString(["limit", "cursor"])),
        extraHeaders,
        adminAuth,
        async (route, id, body, search, headers, auth) => {
          const method = route === "create" ? "POST" : route === "patch" ? "PATCH" : "GET"
          const path = route === "create" || route === "list" ? "/admin/api/businesses" : `/admin/api/businesses/${id}`
          const { response, text, label } = await send({ method, path: path + search, headers: { ...headers, authorization: auth }, body: method === "GET" ? undefined : body })
          const own = { create: [201, 400, 413, 415], list: [200, 400], read: [200, 404], patch: [200, 400, 404, 413, 415] }[route]
          expectStatus(response.status, [...own, ...authStatuses(auth)], label)
          if (response.status === 201) real.businesses.push((JSON.parse(text) as { id: string }).id)
          if (response.status < 300 && (route === "create" || route === "patch" || route === "read")) {
            const business = JSON.parse(text) as { id: string; phone: string; timezone: string; ringSeconds: number; maxConcurrentCalls: number }
            expect(business.id, label).toMatch(UUID)
            expect(business.phone, label).toMatch(/^\+[1-9]\d{6,14}$/)
            expect(business.ringSeconds, label).toBeGreaterThanOrEqual(5)
            expect(business.maxConcurrentCalls, label).toBeGreaterThanOrEqual(1)
          }
          if (route === "list" && response.status === 200) expect(Array.isArray((JSON.parse(text) as { items: unknown }).items), label).toBe(true)
        }
      ),
      runs(300)
    )
  })

  it("admin callbacks (list, retry, cancel, stats): any id, query and headers answer 2xx or a 4xx problem", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<"list" | "retry" | "cancel" | "stats">("list", "list", "retry", "cancel", "stats"),
        idSegment("callbacks"),
        fc.oneof(fc.constant(""), queryString(["status", "businessId", "phone", "limit", "cursor"])),
        fc.option(bodyText(fc.constant({})), { nil: undefined }),
        extraHeaders,
        adminAuth,
        async (route, id, search, body, headers, auth) => {
          const method = route === "retry" || route === "cancel" ? "POST" : "GET"
          const path = route === "list" ? "/admin/api/callbacks" : route === "stats" ? "/admin/api/stats" : `/admin/api/callbacks/${id}/${route}`
          const { response, text, label } = await send({ method, path: path + search, headers: { ...headers, authorization: auth }, body: method === "GET" ? undefined : body })
          const own = { list: [200, 400], retry: [200, 404, 409, 413], cancel: [200, 404, 409, 413], stats: [200] }[route]
          expectStatus(response.status, [...own, ...authStatuses(auth)], label)
          if (response.status === 200 && route === "list") {
            const page = JSON.parse(text) as { items: Array<{ status: string }>; nextCursor?: string }
            expect(Array.isArray(page.items), label).toBe(true)
            for (const item of page.items) expect(STATUSES, label).toContain(item.status)
          }
          if (response.status === 200 && route === "stats") {
            const stats = JSON.parse(text) as { callbacks: Record<string, number>; last24h: Record<string, number> }
            expect(Object.keys(stats.callbacks).sort(), label).toEqual([...STATUSES].sort())
            expect(Object.keys(stats.last24h).sort(), label).toEqual(["completed", "created", "failed"])
          }
          if (response.status === 200 && (route === "retry" || route === "cancel")) expect((JSON.parse(text) as { status: string }).status, label).toBe(route === "retry" ? "queued" : "cancelled")
        }
      ),
      runs(250)
    )
  })

  it("a business's own API (its callbacks, its webhooks): any id, body, query, headers and credential answer 2xx or a 4xx problem; another business's endpoint is never touched", async () => {
    // what an API call could change (its delivery bookkeeping moves on its own: the business's events keep failing to reach it)
    const foreign = async () =>
      (await query<Record<string, unknown>>(databaseUrl, "SELECT * FROM webhook_endpoints WHERE id = $1", [keys.foreignEndpoint])).map(
        ({ consecutive_failures: _f, failing_since: _s, ...settings }) => settings
      )
    const before = await foreign()
    expect(before).toHaveLength(1)
    const endpointFields = {
      url: fc.constantFrom("http://127.0.0.1:9/hook", "https://hooks.example/x", "http://[::1]:9/", "https://example.com/" + "p".repeat(2030)),
      eventTypes: fc.array(fc.constantFrom("callback.created", "callback.completed", "call.status"), { maxLength: 3 }),
      description: fc.string({ maxLength: 40 }),
      enabled: fc.boolean()
    }
    const endpointEdges = {
      url: fc.oneof(fc.constantFrom("", "ftp://x", "http://", "/relative", "javascript:alert(1)", "http://10.0.0.1/", "http://169.254.169.254/"), nastyString, hugeString),
      eventTypes: fc.oneof(fc.array(fc.oneof(nastyString, fc.constantFrom("callback.nope", "")), { maxLength: 3 }), anyValue),
      description: fc.oneof(nastyString, hugeString, fc.constant(null)),
      enabled: anyValue
    }
    const endpointBody = mutated(fc.record(endpointFields, { requiredKeys: ["url"] }), endpointEdges, 2)
    type OwnRoute = "callbacks" | "create" | "list" | "get" | "patch" | "delete" | "rotate" | "deliveries" | "replay"
    const credential = fc.oneof(
      { weight: 6, arbitrary: fc.constant(`Bearer ${keys.secret}`) },
      { weight: 1, arbitrary: fc.constantFrom(`Bearer ${keys.publishable}`, `Bearer ${ADMIN_TOKEN}`, undefined, "Bearer sk_", `Bearer ${keys.secret}x`) },
      { weight: 1, arbitrary: headerText(60).map((t) => `Bearer ${t}`) }
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<OwnRoute>("callbacks", "callbacks", "create", "list", "get", "patch", "delete", "rotate", "deliveries", "replay"),
        idSegment("endpoints"),
        fc.oneof(fc.nat().map(String), fc.uuid(), nastyString.map(pct)),
        bodyText(endpointBody),
        fc.oneof(fc.constant(""), queryString(["status", "businessId", "phone", "limit", "cursor"])),
        extraHeaders,
        credential,
        async (route, id, deliveryId, body, search, headers, auth) => {
          const endpoint = `/v1/webhooks/${id}`
          const [method, path] = {
            callbacks: ["GET", "/v1/callbacks"],
            create: ["POST", "/v1/webhooks"],
            list: ["GET", "/v1/webhooks"],
            get: ["GET", endpoint],
            patch: ["PATCH", endpoint],
            delete: ["DELETE", endpoint],
            rotate: ["POST", `${endpoint}/rotate-secret`],
            deliveries: ["GET", `${endpoint}/deliveries`],
            replay: ["POST", `${endpoint}/deliveries/${deliveryId}/replay`]
          }[route] as [string, string]
          const sendsBody = method === "POST" || method === "PATCH"
          const { response, text, label, url } = await send({ method, path: path + search, headers: { ...headers, authorization: auth }, body: sendsBody ? body : undefined })
          const own = {
            callbacks: [200, 400],
            create: [201, 400, 413, 415],
            list: [200, 400],
            get: [200, 404],
            patch: [200, 400, 404, 413, 415],
            delete: [204, 404],
            rotate: [200, 404, 413],
            deliveries: [200, 400, 404],
            replay: [202, 404, 409, 413]
          }[route]
          // an encoded slash or `..` in an id may make the path another route's, or none
          const allowed = auth === `Bearer ${keys.secret}` ? [...own, 404] : [401, 403, 404, 413]
          // a `?key=` is the credential read first (a stranger parameter may be named so), and one that is not a key is refused
          expectStatus(response.status, url.searchParams.has("key") ? [...allowed, 401, 403] : allowed, label)
          if (response.status < 300 && url.pathname.includes(keys.foreignEndpoint)) expect.fail(`another business's endpoint answered: ${label}`)
          if (response.status === 200 && (route === "callbacks" || route === "list")) {
            const page = JSON.parse(text) as { items: Array<{ businessId: string }> }
            for (const item of page.items) expect(item.businessId, label).toBe(real.businesses[0])
          }
        }
      ),
      runs(250)
    )
    expect(await foreign()).toEqual(before)
  })

  it("Twilio webhooks without a valid signature: 403 whatever they carry, and nothing changes", async () => {
    const snapshot = async () => ({
      attempts: await query(databaseUrl, "SELECT * FROM call_attempts WHERE id = ANY($1::uuid[]) ORDER BY id", [real.attempts]),
      messages: await query(databaseUrl, "SELECT * FROM sms_messages WHERE id = ANY($1::uuid[]) ORDER BY id", [real.messages])
    })
    const before = await snapshot()
    const formParams = fc.dictionary(
      fc.oneof(fc.constantFrom("CallStatus", "CallSid", "MessageStatus", "SmsStatus", "SequenceNumber", "ErrorCode", "AccountSid", "CallDuration", "To", "From"), fc.string({ maxLength: 10 })),
      fc.oneof(fc.constantFrom("completed", "in-progress", "answered", "busy", "failed", "delivered", "undelivered", "0", "-1", "99999999999"), nastyString, fc.string({ maxLength: 30 })),
      { maxKeys: 8 }
    )
    const twilioBody: fc.Arbitrary<string | undefined> = fc.oneof(
      { weight: 6, arbitrary: formParams.map((params) => new URLSearchParams(params).toString()) },
      { weight: 1, arbitrary: bodyText(fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 4 })) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) }
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/twilio/voice/", "/twilio/status/call/", "/twilio/status/sms/"),
        fc.oneof(idSegment("attempts"), idSegment("messages")),
        fc.oneof(fc.constant(""), queryString(["CallStatus", "AccountSid"])),
        twilioBody,
        fc.option(fc.oneof(headerText(40), fc.base64String({ minLength: 28, maxLength: 28 })), { nil: undefined }),
        extraHeaders,
        async (route, id, search, body, signature, headers) => {
          const { response, label, url } = await send({
            method: "POST",
            path: `${route}${id}${search}`,
            headers: { "content-type": "application/x-www-form-urlencoded", ...headers, "x-twilio-signature": signature },
            body
          })
          // a path that no longer names a webhook (`..`, an encoded slash) is a 404
          const isWebhook = /^\/twilio\/(voice|status\/call|status\/sms)\/[^/]+$/.test(url.pathname)
          expectStatus(response.status, isWebhook ? [403, 413] : [403, 404, 413], label)
        }
      ),
      runs(250)
    )
    expect(await snapshot()).toEqual(before)
  })

  it("afterwards the app is still ready and alive, and its fixtures are intact", async () => {
    for (const path of ["/readyz", "/livez"]) {
      const response = await app.request(path)
      expect(response.status, `${path}: ${await response.text()}`).toBe(200)
    }
    const stats = await app.request("/admin/api/stats", { admin: true })
    expect(stats.status).toBe(200)
    const view = await app.request(`/v1/callbacks/${real.callbacks[1] ?? ""}`)
    expect(view.status).toBe(200)
  })
})

/** Regressions the properties above found (each failed before its fix). */
describe("found by the properties above", () => {
  it("a 409's problem document keeps `status` 409 (RFC 9457); the request's state is `callbackStatus`", async () => {
    // fixtures of its own: the fuzz above may have cancelled or revived the shared ones
    const business = real.businesses[0] ?? ""
    const pending = await app.create(business)
    const cancelled = await app.create(business)
    expect((await app.request(`/admin/api/callbacks/${cancelled.id}/cancel`, { method: "POST", admin: true })).status).toBe(200)
    const retry = await app.request(`/admin/api/callbacks/${pending.id}/retry`, { method: "POST", admin: true })
    const resend = await app.request(`/v1/callbacks/${cancelled.id}/verification/resend`, { method: "POST" })
    for (const response of [retry, resend]) {
      expect(response.status).toBe(409)
      const problem = (await response.json()) as { type: string; status: unknown }
      expect(problem.type).toBe("/problems/conflict")
      expect(problem.status).toBe(409)
      expect(["pending_verification", "cancelled"]).toContain((problem as { callbackStatus?: string }).callbackStatus)
    }
  })

  it("a callbacks list cursor after the year 9999 is a 400, not a 500", async () => {
    for (const micros of [LAST_CURSOR_MICROS + 1n, 999_999_999_999_999_999n]) {
      const response = await app.request(`/admin/api/callbacks?cursor=${micros}.00000000-0000-4000-8000-000000000000`, { admin: true })
      expect(response.status, `${micros}: ${await response.text()}`).toBe(400)
    }
  })
})
