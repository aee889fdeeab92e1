/**
 * Property tests of the whole HTTP surface against one running process: any
 * method, path, query, headers and body a client can send gets a response
 * under 500, every error is a problem document whose `status` is the HTTP
 * status, every response carries a request id and conforms to the OpenAPI
 * document (tests/support/conformance.ts). Valid enqueues leave exactly the
 * job they describe.
 *
 * The process runs with role `web` (the HTTP API and its process row, no job
 * pools): the routes are those of `all`, and nothing the fuzzer enqueues runs.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN, type RunningApp, startApp } from "../../support/app.ts"
import { cloneDatabase } from "../../support/database.ts"
import { count } from "../../support/ledger.ts"
import { pct, serialize } from "../../support/fuzz.ts"

const JOB_STATES = ["scheduled", "available", "running", "retryable", "completed", "discarded", "cancelled"] as const
const SLUGS = ["validation", "malformed-body", "unauthorized", "forbidden", "not-found", "conflict", "payload-too-large", "rate-limited", "unavailable", "internal"]
/** Kinds safe to enqueue here; `test.poison` kills the process that runs it and is never generated. */
const KINDS = ["test.ledger", "test.keyed", "test.tick"] as const
const DEFAULT_MAX_ATTEMPTS: Record<(typeof KINDS)[number], number> = { "test.ledger": 5, "test.keyed": 3, "test.tick": 3 }
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const BODY_LIMIT = 64 * 1024


/** Strips what fetch strips from a header value (leading and trailing HTTP whitespace). */
const httpTrim = (value: string) => value.replace(/^[\t ]+|[\t ]+$/g, "")

// ---------------------------------------------------------------- generators

/** Path segments: odd raw ones sent as they are, and generated ones percent-encoded. */
const ODD_SEGMENTS = [
  "%", "%zz", "%00", "%E0%A4%A", "%C0%AF", "%FF", "%2F", "%2e%2e", "..", ".", "%20", "+", " ", "ü", "😀", "\u202e",
  "__proto__", "constructor", "hasOwnProperty", "toString", "-1", "0", "01", "1e3", "0x1f", "1.5", "NaN", "Infinity",
  "9223372036854775807", "9223372036854775808", "999999999999999999", "null", "undefined", "[]", "{}", "a;b", "a,b"
]
const segment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_SEGMENTS),
  fc.constantFrom(...SLUGS),
  fc.integer({ min: 1, max: 60 }).map(String), // ids of jobs that exist
  fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
  fc.string({ unit: "binary", maxLength: 40 }).map(pct),
  fc.string({ unit: "grapheme", maxLength: 20 }).map(pct),
  fc.string({ unit: "binary-ascii", maxLength: 20 }).map(pct)
)

const TEMPLATES = [
  "/livez",
  "/readyz",
  "/healthz",
  "/metrics",
  "/openapi.json",
  "/problems/{s}",
  "/admin/api/queues",
  "/admin/api/jobs",
  "/admin/api/jobs/{s}",
  "/admin/api/jobs/{s}/retry",
  "/admin/api/jobs/{s}/cancel",
  "/admin/api/processes",
  "/admin/api/audit",
  "/admin/api",
  "/{s}",
  "/{s}/{s}",
  "/admin/api/{s}",
  "/admin/api/jobs/{s}/{s}"
]
/** Header text fetch will send: visible ASCII, Latin-1 and tabs. */
const headerText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(fc.char(), fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), fc.constant("\t")),
    maxLength
  })
const hex = (length: number) => fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length })

const headers: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    "content-type": fc.oneof(
      fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/problem+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "",
        ";;;/"
      ),
      headerText(60)
    ),
    authorization: fc.oneof(
      fc.constantFrom(`Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(1)}`, "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", ADMIN_TOKEN),
      headerText(80),
      headerText(80).map((t) => `Bearer ${t}`)
    ),
    "x-request-id": fc.oneof(
      fc.stringMatching(REQUEST_ID),
      headerText(200),
      fc.nat({ max: 6_000 }).map((n) => "r".repeat(129 + n)),
      fc.constantFrom("a b", "<script>", "id\u00e9", "-", ":", "..")
    ),
    traceparent: fc.oneof(
      fc.tuple(hex(2), hex(32), hex(16), hex(2)).map(([v, t, s, f]) => `${v}-${t}-${s}-${f}`),
      fc.constantFrom("00-00000000000000000000000000000000-0000000000000000-00", "ff-ffffffffffffffffffffffffffffffff-ffffffffffffffff-ff", "00--", "-"),
      headerText(100)
    ),
    tracestate: headerText(60),
    b3: fc.oneof(fc.tuple(hex(32), hex(16)).map(([t, s]) => `${t}-${s}-1`), headerText(60)),
    "x-b3-traceid": headerText(40),
    accept: fc.constantFrom("*/*", "application/json", "text/html", "application/problem+json", ""),
    "content-encoding": fc.constantFrom("gzip", "br", "identity", "bogus")
  },
  { requiredKeys: [] }
)

/** Strings with the characters that trouble parsers and databases: NUL, lone surrogates, quotes, `%`. */
const nastyString: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof(fc.constantFrom("\u0000", "\ud800", "\udfff", "%", "\u202e", "'", '"', "\\", "😀", "\n", "é"), fc.char()),
  maxLength: 12
})

/** Values of the wrong type or at the edges of the right one. */
const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 53, Number.MAX_SAFE_INTEGER, 1e308, -1, 0, 0.5, 1e-7, 10, 366 * 86_400 + 1),
  fc.bigInt().map(String),
  nastyString,
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 495, maxLength: 505 }),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 1 }),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), // any year JavaScript has, 6-digit ones included
  fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.constantFrom("not a date", "", "2024-02-30T00:00:00Z", "2024-01-01", "0000-01-01T00:00:00Z", "-100000-01-01T00:00:00Z", "+200000-01-01T00:00:00Z")
)

type Kind = (typeof KINDS)[number]
interface EnqueueBody {
  readonly kind: Kind
  readonly args?: Record<string, unknown>
  readonly priority?: number
  readonly maxAttempts?: number
  readonly uniqueKey?: string
  readonly runAt?: string
  readonly delaySeconds?: number
}

/**
 * Enqueue bodies the API documents as valid. Delays are whole or half seconds:
 * sub-millisecond ones are the subject of a test of their own below.
 */
const validEnqueue: fc.Arbitrary<EnqueueBody> = fc
  .tuple(
    fc.oneof(
      fc.record(
        {
          kind: fc.constant("test.ledger" as const),
          args: fc.record({ sleepMs: fc.nat(), firstAttemptMs: fc.nat(), hangFirstAttempt: fc.boolean(), failTimes: fc.nat({ max: 10 }) }, { requiredKeys: [] })
        },
        { requiredKeys: ["kind"] }
      ),
      fc.record({ kind: fc.constant("test.keyed" as const), args: fc.record({ sleepMs: fc.double({ noNaN: true, noDefaultInfinity: true }) }) }),
      fc.record({ kind: fc.constant("test.tick" as const), args: fc.constant({}) }, { requiredKeys: ["kind"] })
    ),
    fc.record(
      {
        priority: fc.integer({ min: 0, max: 9 }),
        maxAttempts: fc.integer({ min: 1, max: 1_000 }),
        uniqueKey: fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).map((k) => `valid:${k}`)
      },
      { requiredKeys: [] }
    ),
    fc.oneof(
      fc.constant({}),
      fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => ({ runAt: d.toISOString() })),
      fc.integer({ min: 0, max: 366 * 86_400 }).map((s) => ({ delaySeconds: s })),
      fc.integer({ min: 0, max: 366 * 2 * 86_400 }).map((n) => ({ delaySeconds: n / 2 }))
    )
  )
  .map(([what, options, when]) => ({ ...what, ...options, ...when }))

const FIELDS = ["kind", "args", "runAt", "delaySeconds", "priority", "maxAttempts", "uniqueKey", "extra", "args.sleepMs", "args.failTimes", "args.extra"] as const

/** A valid body with up to two fields replaced by wrong or edge values (or removed). */
const enqueueShaped: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(validEnqueue, fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.option(edgeValue, { nil: undefined, freq: 8 })), { maxLength: 2 }))
  .map(([valid, mutations]) => {
    const body: Record<string, unknown> = { ...valid, args: { ...valid.args } }
    for (const [field, value] of mutations) {
      const [head, sub] = field.split(".") as [string, string | undefined]
      const target = sub === undefined ? body : typeof body.args === "object" && body.args !== null ? (body.args as Record<string, unknown>) : undefined
      const key = sub ?? head
      if (target === undefined) continue
      if (value === undefined) delete target[key]
      else target[key] = value
    }
    return body
  })

const body: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(serialize) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 3 }).map(serialize) },
  { weight: 6, arbitrary: enqueueShaped.map(serialize) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "{", "[", "null", "{}", "[]", '""', '{"kind":}', "\u0000", "\ufeff{}") },
  { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 64, max: BODY_LIMIT + 3_000 }).map((n) => "x".repeat(n)) }
)

/** Query strings of the job list: its parameters with valid, edge and nasty values, and strangers. */
const listValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...JOB_STATES, ...KINDS, "default", "1", "2", "50", "500") },
  { weight: 1, arbitrary: fc.constantFrom("501", "0", "-1", "1.5", "abc", "", "9999999999999999999", "999999999999999999", "%", "%00", "%zz") },
  { weight: 1, arbitrary: fc.nat().map(String) },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 250 }) }
)
const queryString: fc.Arbitrary<string> = fc
  .tuple(
    fc.record({ state: listValue, queue: listValue, kind: listValue, limit: listValue, cursor: listValue }, { requiredKeys: [] }),
    fc.array(fc.tuple(fc.string({ unit: "binary-ascii", maxLength: 8 }), listValue), { maxLength: 2 }),
    fc.boolean()
  )
  .map(([known, strangers, encode]) => {
    const pairs = [...Object.entries(known), ...strangers]
    return pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => (encode ? `${pct(k)}=${pct(v)}` : `${k}=${v}`)).join("&")}`
  })

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const
type Method = (typeof METHODS)[number]

/** The operations the API documents, as (method, path template). */
const OPERATIONS: ReadonlyArray<readonly [Method, string]> = [
  ["GET", "/livez"],
  ["GET", "/readyz"],
  ["GET", "/healthz"],
  ["GET", "/metrics"],
  ["GET", "/openapi.json"],
  ["GET", "/problems/{s}"],
  ["GET", "/admin/api/queues"],
  ["GET", "/admin/api/jobs"],
  ["POST", "/admin/api/jobs"],
  ["GET", "/admin/api/jobs/{s}"],
  ["POST", "/admin/api/jobs/{s}/retry"],
  ["POST", "/admin/api/jobs/{s}/cancel"],
  ["GET", "/admin/api/processes"]
]

interface Sent {
  readonly method: Method
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string | undefined
}

const request: fc.Arbitrary<Sent> = fc
  .record({
    route: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...OPERATIONS) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...METHODS), fc.constantFrom(...TEMPLATES)) }
    ),
    a: segment,
    b: segment,
    query: fc.oneof(queryString, fc.constant("")),
    headers,
    body,
    admin: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) })
  })
  .map(({ route: [method, template], a, b, query, headers, body, admin }) => ({
    method,
    path: template.replace("{s}", a).replace("{s}", b) + query,
    headers: admin ? { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` } : headers,
    body: method === "GET" ? undefined : body
  }))
  // never a body that could enqueue the job kind that kills its process
  .filter((r) => !(r.body ?? "").includes("test.poison"))

// ---------------------------------------------------------------- the app

describe("the HTTP surface under arbitrary requests", () => {
  let app: RunningApp
  let databaseUrl: string

  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
    app = await startApp({ databaseUrl, role: "web" })
  })
  afterAll(() => app?.dispose())

  /** Sends `r` and checks what holds for every response; returns the response and its body text. */
  const sendAndCheck = async (r: Sent) => {
    let prepared: Request
    try {
      prepared = new Request(app.baseUrl + r.path, { method: r.method, headers: r.headers, body: r.body })
    } catch {
      fc.pre(false) // a request fetch itself refuses to build: not one a client can send
      throw new Error("unreachable")
    }
    const response = await app.fetch(prepared)
    const text = await response.text()
    const label = `${r.method} ${r.path} -> ${response.status} ${text.slice(0, 300)}`

    expect(response.status, label).toBeLessThan(500)
    const id = response.headers.get("x-request-id")
    const given = r.headers["x-request-id"] === undefined ? undefined : httpTrim(r.headers["x-request-id"])
    if (given !== undefined && REQUEST_ID.test(given)) expect(id, label).toBe(given)
    else expect(id, label).toMatch(UUID)

    if (r.body !== undefined && new TextEncoder().encode(r.body).length > BODY_LIMIT) expect(response.status, label).toBe(413)

    if (response.status >= 400) {
      expect(response.headers.get("content-type"), label).toBe("application/problem+json")
      const problem = JSON.parse(text) as { type?: unknown; status?: unknown; title?: unknown; detail?: unknown; requestId?: unknown }
      expect(typeof problem.type === "string" && problem.type.startsWith("/problems/"), label).toBe(true)
      expect(problem.status, label).toBe(response.status)
      expect(typeof problem.title, label).toBe("string")
      expect(typeof problem.detail, label).toBe("string")
      expect(problem.requestId, label).toBe(id)
    } else if (new URL(prepared.url).pathname !== "/metrics") {
      expect(response.headers.get("content-type"), label).toMatch(/^application\/json/)
      expect(() => JSON.parse(text), label).not.toThrow()
    }
    return { response, text }
  }

  const runs = (numRuns: number) => ({ numRuns, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false })

  it("valid enqueues leave exactly the job they describe (duplicates of a unique key: the existing job)", async () => {
    const byKey = new Map<string, string>()
    await fc.assert(
      fc.asyncProperty(validEnqueue, async (sent) => {
        const jobsBefore = await count(databaseUrl, "SELECT count(*) AS n FROM jobs")
        const before = Date.now()
        const { response, text } = await sendAndCheck({
          method: "POST",
          path: "/admin/api/jobs",
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify(sent)
        })
        const after = Date.now()
        const job = JSON.parse(text) as Record<string, unknown>
        const existing = sent.uniqueKey === undefined ? undefined : byKey.get(sent.uniqueKey)
        if (existing !== undefined) {
          expect(response.status, text).toBe(200)
          expect(job).toMatchObject({ id: existing, duplicate: true, uniqueKey: sent.uniqueKey })
          expect(await count(databaseUrl, "SELECT count(*) AS n FROM jobs")).toBe(jobsBefore)
          return
        }
        expect(response.status, text).toBe(201)
        expect(job).toMatchObject({
          queue: "default",
          kind: sent.kind,
          priority: sent.priority ?? 2,
          maxAttempts: sent.maxAttempts ?? DEFAULT_MAX_ATTEMPTS[sent.kind],
          attempt: 0,
          args: JSON.parse(JSON.stringify(sent.args ?? {})) as unknown,
          errors: [],
          uniqueKey: sent.uniqueKey ?? null,
          finishedAt: null,
          duplicate: false
        })
        const runAt = Date.parse(String(job.runAt))
        if (sent.runAt !== undefined) expect(runAt).toBe(Date.parse(sent.runAt))
        else {
          const delay = (sent.delaySeconds ?? 0) * 1000
          expect(runAt).toBeGreaterThanOrEqual(before + delay - 2_000)
          expect(runAt).toBeLessThanOrEqual(after + delay + 2_000)
        }
        const future = sent.runAt !== undefined ? runAt > after + 1_000 : (sent.delaySeconds ?? 0) > 0
        if (sent.runAt === undefined || Math.abs(runAt - before) > 5_000) expect(job.state).toBe(future ? "scheduled" : "available")
        if (sent.uniqueKey !== undefined) byKey.set(sent.uniqueKey, String(job.id))

        const { duplicate: _, ...view } = job
        const fetched = await app.fetch(`${app.baseUrl}/admin/api/jobs/${String(job.id)}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
        expect(await fetched.json()).toEqual(view)
        expect(await count(databaseUrl, "SELECT count(*) AS n FROM jobs")).toBe(jobsBefore + 1)
        expect(await count(databaseUrl, "SELECT count(*) AS n FROM jobs WHERE id = $1 AND kind = $2", [job.id, sent.kind])).toBe(1)
      }),
      runs(150)
    )
  })

  it("any request: never 5xx; errors are problem documents with their status; always a request id", async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        await sendAndCheck(r)
      }),
      runs(400)
    )
  })

  it("any enqueue-shaped body, with the admin token: a 201/200 job or a 4xx problem, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(enqueueShaped, headers, async (shape, extra) => {
        const text = serialize(shape)
        fc.pre(!text.includes("test.poison"))
        const { response, text: answer } = await sendAndCheck({
          method: "POST",
          path: "/admin/api/jobs",
          headers: { ...extra, authorization: `Bearer ${ADMIN_TOKEN}` },
          body: text
        })
        // a body the browser could have sent from a plain form (any type but JSON) is refused before it is read
        const json = (extra["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() === "application/json"
        expect(json ? [200, 201, 400, 413] : [413, 415]).toContain(response.status)
        if (response.status === 201) {
          const { args } = JSON.parse(answer) as { args: unknown }
          expect(typeof args === "object" && args !== null && !Array.isArray(args), `args ${JSON.stringify(args)} of ${text}`).toBe(true)
        }
      }),
      { ...runs(500), examples: [[{ kind: "test.tick", maxAttempts: 2 ** 31 }, { "content-type": "application/json" }]] }
    )
  })

  it("any list query, with the admin token: a page or a 400 validation problem, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(queryString, async (query) => {
        const { response, text } = await sendAndCheck({ method: "GET", path: `/admin/api/jobs${query}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: undefined })
        expect([200, 400], text).toContain(response.status)
        if (response.status === 200) expect(Array.isArray((JSON.parse(text) as { items?: unknown }).items)).toBe(true)
        else expect((JSON.parse(text) as { type: string }).type).toBe("/problems/validation")
      }),
      { ...runs(300), examples: [["?kind=%00"]] }
    )
  })

  it("any id on the job routes, with the admin token: the job, 404 or 409, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(segment, fc.constantFrom("", "/retry", "/cancel"), async (id, action) => {
        const { response } = await sendAndCheck({
          method: action === "" ? "GET" : "POST",
          path: `/admin/api/jobs/${id}${action}`,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          body: undefined
        })
        expect([200, 404, 409]).toContain(response.status)
      }),
      runs(200)
    )
  })

  describe("client input that reached the database as a 503 (found by the properties above)", () => {
    const post = (body: string) => app.fetch(`${app.baseUrl}/admin/api/jobs`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body })
    const list = (query: string) => app.fetch(`${app.baseUrl}/admin/api/jobs?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const expectValidation = async (response: Response) => {
      const text = await response.text()
      expect(`${response.status} ${text}`).toMatch(/^400 /)
      expect((JSON.parse(text) as { type: string }).type).toBe("/problems/validation")
    }

    it("maxAttempts beyond a 32-bit integer is a 400, not a 503", async () => {
      await expectValidation(await post(JSON.stringify({ kind: "test.ledger", maxAttempts: 2 ** 31 })))
      await expectValidation(await post(JSON.stringify({ kind: "test.ledger", maxAttempts: Number.MAX_SAFE_INTEGER })))
    })

    it("a uniqueKey with a NUL character is a 400, not a 503", async () => {
      await expectValidation(await post(JSON.stringify({ kind: "test.ledger", uniqueKey: "a\u0000b" })))
    })

    it("runAt outside what the database can store is a 400, not a 503", async () => {
      for (const runAt of ["0000-01-01T00:00:00Z", "-100000-01-01T00:00:00Z", "+200000-01-01T00:00:00Z"]) {
        await expectValidation(await post(JSON.stringify({ kind: "test.ledger", runAt })))
      }
    })

    it("delaySeconds with sub-millisecond digits is accepted, not a 503", async () => {
      for (const delaySeconds of [0.0001, 1.0001, 12.3456]) {
        const response = await post(JSON.stringify({ kind: "test.ledger", delaySeconds }))
        const text = await response.text()
        expect(`${response.status} ${text}`, String(delaySeconds)).toMatch(/^201 /)
        const runAt = Date.parse((JSON.parse(text) as { runAt: string }).runAt)
        expect(Math.abs(runAt - (Date.now() + delaySeconds * 1000))).toBeLessThan(5_000)
      }
    })

    it("a NUL character in the kind or queue filter is an empty page or a 400, not a 503", async () => {
      for (const query of ["kind=%00", "queue=a%00b"]) {
        const response = await list(query)
        const text = await response.text()
        expect(`${response.status} ${text}`, query).toMatch(/^(200 \{"items":\[\]\}|400 )/)
      }
    })
  })

  it("args of a kind that takes no arguments must still be a JSON object without extra keys", async () => {
    for (const args of ["hello", 5, [1], true, { surprise: 1 }, "\u0000", "\ud800"]) {
      const response = await app.fetch(`${app.baseUrl}/admin/api/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "test.tick", args })
      })
      const text = await response.text()
      expect(`${response.status} ${text}`, JSON.stringify(args)).toMatch(/^400 /)
      expect((JSON.parse(text) as { errors?: Array<{ in: string; path: string }> }).errors?.[0], JSON.stringify(args)).toMatchObject({ in: "body", path: expect.stringMatching(/^\/args(\/|$)/) })
    }
  })

  it("two different uniqueKeys (lone surrogates) are two jobs, not duplicates of each other", async () => {
    const post = (uniqueKey: string) =>
      app.fetch(`${app.baseUrl}/admin/api/jobs`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ kind: "test.tick", uniqueKey }) })
    const first = await post("lone-\ud800")
    const second = await post("lone-\udc00")
    // either both are refused as invalid keys, or they are two distinct jobs
    if (first.status === 400) expect(second.status).toBe(400)
    else {
      expect(first.status).toBe(201)
      expect(second.status).toBe(201)
      const [a, b] = [(await first.json()) as { id: string }, (await second.json()) as { id: string }]
      expect(a.id).not.toBe(b.id)
    }
  })
})
