/**
 * The product under faults, the parts shared by tests/chaos/product.test.ts
 * and scripts/soak.ts: the settings the application's processes run with,
 * a visitor's side of the API, a Twilio front that records the call creates
 * it passes to the simulator, and the total check that ends every scenario.
 *
 * It imports nothing of Vitest (the soak runs outside the test runner): the
 * checks return their verdicts, and the caller asserts or prints them.
 *
 * The total check, over the businesses a run created and the requests it was
 * answered 2xx for ("accepted"):
 * - every accepted request is terminal (completed, failed, cancelled or
 *   expired) with exactly one terminal event in its history, the one of its
 *   status: it ended, and it ended once;
 * - the calls the simulator received for the businesses are exactly the sids
 *   of their call attempts: one call per attempt, no call without one;
 * - no attempt is left without a definite answer (`placing`, `unknown`);
 * - at no moment were more calls in progress to a business than its
 *   `maxConcurrentCalls` (from the simulator's create and end times);
 * - no job is left running (a cron job running for less than 30 s aside);
 *   the wait before the check also waits for every call watcher to finish;
 * - no concurrency slot lease is held (`job_slot_leases`, where that table exists).
 */
import { query } from "./sql.ts"
import { listen } from "../../infra/http/Listener.ts"

/** The application's settings for product chaos: fast retries, limits and budgets out of the way. */
export const productEnvironment = (twilioUrl: string, adminToken: string): Record<string, string> => ({
  TWILIO_SIMULATOR_URL: twilioUrl,
  ADMIN_TOKEN: adminToken,
  QUEUES: "default:2,calls:40,sms:8,webhooks:1",
  CALL_STATUS_TIMEOUT: "2s",
  // a create without a definite answer is reconciled once its window closes: keep it short
  TWILIO_TIMEOUT: "5s",
  CIRCUIT_OPEN_FOR: "2s",
  CALLBACK_RETRY_DELAYS: "300ms",
  DIAL_LIMIT_PER_DESTINATION: "100000/15m",
  RATE_LIMIT_CREATE_PER_PHONE: "1000/1h",
  RATE_LIMIT_CREATE_PER_IP: "1000000/10m",
  RATE_LIMIT_VERIFY_PER_IP: "1000000/10m",
  BUDGET_SMS_PER_BUSINESS: "off",
  BUDGET_SMS_ACCOUNT: "off",
  BUDGET_CALLS_PER_BUSINESS: "off",
  BUDGET_CALLS_ACCOUNT: "off",
  // texts from the one simulated sender at the most it may send (the default is a long code's 1 per second)
  SMS_SENDER_RATE: "1000",
  LOG_LEVEL: "info"
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const AREAS = [201, 202, 206, 212, 213, 305, 312, 415, 512, 617, 646, 702, 718, 919]
const issued = new Set<string>()
/** A valid US number (`+1 <area> 555 <4 digits>`) not handed out before by this process. */
export const visitorNumber = (): string => {
  for (;;) {
    const area = AREAS[Math.floor(Math.random() * AREAS.length)] ?? 415
    const number = `+1${area}555${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`
    if (!issued.has(number)) {
      issued.add(number)
      return number
    }
  }
}

export { query }

const countOf = async (url: string, text: string, values: ReadonlyArray<unknown> = []) => Number((await query<{ n: string }>(url, text, values))[0]?.n ?? 0)

// ---------------------------------------------------------------------------------------------
// the visitor's side

/** An answer of the API; status 0 when the connection failed (`error` says how). */
export interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  readonly replayed: boolean
  readonly body: Record<string, unknown>
  readonly error?: string
}

/** Where a business's calls go and how many it takes at once. */
export interface BusinessLine {
  readonly id: string
  readonly phone: string
  readonly maxConcurrentCalls: number
}

/** The API of a web process and the simulator's record, as visitors, an operator and the checks use them. */
export const productApi = (webUrl: string, simulatorUrl: string, adminToken: string) => {
  const send = async (method: string, target: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    try {
      const response = await fetch(webUrl + target, {
        method,
        headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}`, ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      const text = await response.text()
      let parsed: Record<string, unknown> = {}
      try {
        parsed = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>)
      } catch {
        parsed = { text }
      }
      return { status: response.status, retryAfter: response.headers.get("retry-after"), replayed: response.headers.get("idempotent-replayed") === "true", body: parsed }
    } catch (error) {
      return { status: 0, retryAfter: null, replayed: false, body: {}, error: String((error as { cause?: unknown }).cause ?? error) }
    }
  }
  const sim = async <A>(target: string, init: RequestInit = {}): Promise<A> => {
    const response = await fetch(simulatorUrl + target, { ...init, headers: { "content-type": "application/json" } })
    return (response.status === 204 ? undefined : await response.json()) as A
  }

  /** The newest code texted to `phone` (one other than `except`), once there is one; undefined after `timeoutMs`. */
  const codeFor = async (phone: string, timeoutMs: number, except?: string): Promise<string | undefined> => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const texts = await sim<ReadonlyArray<{ body: string }>>(`/sim/messages?to=${encodeURIComponent(phone)}`).catch(() => [])
      const code = texts.map((t) => /code is (\d{6})/.exec(t.body)?.[1]).find((c) => c !== undefined)
      if (code !== undefined && code !== except) return code
      await sleep(200)
    }
    return undefined
  }
  const verify = (id: string, code: string) => send("POST", `/v1/callbacks/${id}/verification`, { code })

  return {
    send,
    sim,
    /** A business whose number the simulator answers as `script` says (outcome, afterMs, talkMs). */
    business: async (name: string, maxConcurrentCalls: number, script: Record<string, unknown>, ringSeconds = 30): Promise<BusinessLine> => {
      const phone = visitorNumber()
      await sim(`/sim/numbers/${encodeURIComponent(phone)}`, { method: "PUT", body: JSON.stringify(script) })
      const created = await send("POST", "/admin/api/businesses", { name, phone, timezone: "UTC", maxConcurrentCalls, ringSeconds })
      if (created.status !== 201) throw new Error(`business not created: ${created.status} ${JSON.stringify(created.body)}`)
      return { id: String(created.body.id), phone, maxConcurrentCalls }
    },
    create: (businessId: string, phone: string, idempotencyKey?: string) =>
      send("POST", "/v1/callbacks", { businessId, phone }, idempotencyKey === undefined ? {} : { "Idempotency-Key": idempotencyKey }),
    verify,
    show: (id: string) => send("GET", `/v1/callbacks/${id}`),
    cancel: (id: string) => send("POST", `/admin/api/callbacks/${id}/cancel`),
    codeFor,
    /**
     * Verifies `id` with `code`, sending again what is refused with 503 (`untilServed`). A wrong code is
     * tried again with a newer one when one arrives within 30 s: a verification job that runs again
     * would text a new code, and the older one would no longer match (codes are now derived from their
     * issue, so a send run again texts the same one: the chaos tests expect no replaced code). Every
     * answer, and how many newer codes were needed.
     */
    verifyLatest: async (id: string, phone: string, code: string, deadlineMs: number) => {
      const answers: Array<Answer> = []
      let replaced = 0
      for (let tried = code; ; ) {
        answers.push(...(await untilServed(() => verify(id, tried), deadlineMs)))
        const last = answers.at(-1)
        if (last?.status !== 400 || last.body.type !== "/problems/wrong-code") return { answers, replaced }
        const newer = await codeFor(phone, 30_000, tried)
        if (newer === undefined) return { answers, replaced }
        tried = newer
        replaced++
      }
    },
    /** Sets the simulator's faults (`PUT /sim/faults`), or clears them all when `faults` is undefined. */
    faults: (faults?: Record<string, unknown>) => sim("/sim/faults", faults === undefined ? { method: "DELETE" } : { method: "PUT", body: JSON.stringify(faults) }),
    stats: () => sim<{ calls: number; messages: number; requests: { calls: number; messages: number } }>("/sim/stats")
  }
}

export type ProductApi = ReturnType<typeof productApi>

/**
 * Sends `attempt` until it is served: a 503 is retried after its `Retry-After` (at most `maxWaitMs`),
 * a failed connection after half a second, until `deadlineMs` from now. Every answer is kept, the last one is the outcome.
 */
export const untilServed = async (attempt: () => Promise<Answer>, deadlineMs: number, maxWaitMs = 5_000): Promise<ReadonlyArray<Answer>> => {
  const deadline = Date.now() + deadlineMs
  const answers: Array<Answer> = []
  for (;;) {
    const answer = await attempt()
    answers.push(answer)
    if ((answer.status !== 503 && answer.status !== 0) || Date.now() > deadline) return answers
    const wait = answer.status === 503 ? Math.min(maxWaitMs, 1000 * Math.max(1, Number(answer.retryAfter) || 1)) : 500
    await sleep(wait)
  }
}

// ---------------------------------------------------------------------------------------------
// a Twilio front

/** A calls.create as the front saw it: when it was answered, how, and for which attempt (from its StatusCallback). */
export interface CreateSeen {
  readonly at: number
  readonly status: number
  readonly attemptId: string | undefined
}

/**
 * A pass-through in front of the simulator that records every calls.create: when it was answered, how,
 * and for which attempt. The application's processes are pointed at it instead of the simulator
 * (`TWILIO_SIMULATOR_URL`); status callbacks still go straight from the simulator to the application.
 */
export const startTwilioFront = async (simulatorUrl: string) => {
  const state: { readonly creates: Array<CreateSeen> } = { creates: [] }
  const listener = await listen(
    async (request) => {
      const url = new URL(request.url)
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.text()
      const headers = new Headers(request.headers)
      for (const name of ["host", "content-length", "connection"]) headers.delete(name)
      const upstream = await fetch(simulatorUrl + url.pathname + url.search, { method: request.method, headers, ...(body === undefined ? {} : { body }) })
      const answer = new Headers(upstream.headers)
      for (const name of ["content-length", "content-encoding", "transfer-encoding", "connection"]) answer.delete(name)
      const payload = await upstream.arrayBuffer()
      if (request.method === "POST" && url.pathname.endsWith("/Calls.json")) {
        const callback = new URLSearchParams(body ?? "").get("StatusCallback") ?? ""
        state.creates.push({ at: Date.now(), status: upstream.status, attemptId: /\/twilio\/status\/call\/([0-9a-f-]{36})/.exec(callback)?.[1] })
      }
      return new Response(payload, { status: upstream.status, headers: answer })
    },
    0,
    "127.0.0.1"
  )
  return {
    url: `http://127.0.0.1:${listener.port}`,
    state,
    close: listener.close
  }
}

export type TwilioFront = Awaited<ReturnType<typeof startTwilioFront>>

// ---------------------------------------------------------------------------------------------
// the total check

export const TERMINAL_STATUSES: ReadonlyArray<string> = ["completed", "failed", "cancelled", "expired"]
const TERMINAL_EVENTS: ReadonlyArray<string> = TERMINAL_STATUSES.map((status) => `callback.${status}`)

export interface SimCall {
  readonly sid: string
  readonly to: string
  readonly createdAt: string
  readonly endedAt?: string
}

/** The most calls in progress at once among `calls` (created to ended; one still going counts to the end). */
export const mostAtOnce = (calls: ReadonlyArray<SimCall>): number => {
  const edges = calls.flatMap((c) => [
    { at: Date.parse(c.createdAt), step: 1 },
    { at: c.endedAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(c.endedAt), step: -1 }
  ])
  edges.sort((a, b) => a.at - b.at || a.step - b.step)
  let now = 0
  let most = 0
  for (const edge of edges) most = Math.max(most, (now += edge.step))
  return most
}

/** Rows of `job_slot_leases` (a concurrency slot held by a call in progress); undefined while that table does not exist. */
export const slotLeases = async (url: string): Promise<number | undefined> => {
  const [table] = await query<{ exists: boolean }>(url, "SELECT to_regclass('job_slot_leases') IS NOT NULL AS exists")
  return table?.exists === true ? countOf(url, "SELECT count(*) AS n FROM job_slot_leases") : undefined
}

/** Jobs running now, aside from a cron job that started less than 30 s ago (one may start at any minute). */
const RUNNING_JOBS = `FROM jobs WHERE state = 'running'
    AND NOT (kind IN ('maintenance.cleanup', 'report.daily') AND attempted_at > now() - interval '30 seconds')`

/** How many jobs are running now (a young cron job aside). */
export const runningJobs = (url: string) => countOf(url, `SELECT count(*) AS n ${RUNNING_JOBS}`)

/**
 * Call watchers not finished yet. A watcher looks once more after its call has ended (its wake-up is set by the
 * call's last status), so a run settles when they are done, not merely when every request is terminal.
 */
export const watchersLeft = (url: string) =>
  countOf(url, "SELECT count(*) AS n FROM jobs WHERE kind = 'callback.watch' AND state IN ('scheduled', 'available', 'running', 'retryable')")

/** Call attempts to `phones` whose create has no definite answer yet. */
export const unresolvedAttempts = (url: string, phones: ReadonlyArray<string>) =>
  countOf(url, "SELECT count(*) AS n FROM call_attempts WHERE to_phone = ANY($1) AND status IN ('placing', 'unknown')", [phones])

/** How many of `ids` are not terminal yet. */
export const unfinished = (url: string, ids: ReadonlyArray<string>) =>
  countOf(url, "SELECT count(*) AS n FROM callback_requests WHERE id = ANY($1) AND status <> ALL($2)", [ids, TERMINAL_STATUSES])

/** What the system still has to do before the total check can be read, or undefined once it has settled. */
export const unsettled = async (url: string, ids: ReadonlyArray<string>, phones: ReadonlyArray<string>): Promise<string | undefined> => {
  const [open, running, watchers, unresolved, leases] = await Promise.all([
    unfinished(url, ids),
    runningJobs(url),
    watchersLeft(url),
    unresolvedAttempts(url, phones),
    slotLeases(url)
  ])
  const left = [
    open > 0 ? `${open} accepted requests not terminal` : "",
    running > 0 ? `${running} jobs running` : "",
    watchers > 0 ? `${watchers} call watchers not finished` : "",
    unresolved > 0 ? `${unresolved} attempts unresolved` : "",
    (leases ?? 0) > 0 ? `${leases} slot leases held` : ""
  ].filter((text) => text !== "")
  return left.length === 0 ? undefined : left.join(", ")
}

export interface Verdict {
  readonly name: string
  readonly pass: boolean
  readonly detail: string
}

export interface TotalCheck {
  readonly verdicts: ReadonlyArray<Verdict>
  readonly failed: ReadonlyArray<Verdict>
  /** Calls the simulator received for the businesses. */
  readonly calls: number
  /** Accepted requests by final status. */
  readonly outcomes: Readonly<Record<string, number>>
  /** Attempts per accepted request, by id. */
  readonly attempts: ReadonlyMap<string, number>
}

const sample = (items: ReadonlyArray<unknown>) => JSON.stringify(items.slice(0, 5)) + (items.length > 5 ? ` and ${items.length - 5} more` : "")

/** The total check (see the module's comment): a verdict for each part, and what was counted. */
export const totalCheck = async (options: {
  readonly databaseUrl: string
  readonly simulatorUrl: string
  readonly businesses: ReadonlyArray<BusinessLine>
  readonly accepted: ReadonlyArray<string>
}): Promise<TotalCheck> => {
  const { databaseUrl: url, accepted } = options
  const phones = options.businesses.map((b) => b.phone)
  const verdicts: Array<Verdict> = []
  const verdict = (name: string, bad: ReadonlyArray<unknown>, good: string) =>
    verdicts.push({ name, pass: bad.length === 0, detail: bad.length === 0 ? good : `${bad.length}: ${sample(bad)}` })

  const requests = await query<{ id: string; status: string; terminal_events: Array<string>; attempts: string }>(
    url,
    `SELECT r.id, r.status,
            ARRAY(SELECT e.type FROM callback_events e WHERE e.callback_id = r.id AND e.type = ANY($2) ORDER BY e.seq) AS terminal_events,
            (SELECT count(*) FROM call_attempts a WHERE a.callback_id = r.id) AS attempts
       FROM callback_requests r WHERE r.id = ANY($1)`,
    [accepted, TERMINAL_EVENTS]
  )
  const found = new Set(requests.map((r) => r.id))
  verdict("every accepted request exists", accepted.filter((id) => !found.has(id)), `${accepted.length} requests`)
  verdict("every accepted request terminal", requests.filter((r) => !TERMINAL_STATUSES.includes(r.status)).map((r) => `${r.id}: ${r.status}`), `${requests.length} terminal`)
  verdict(
    "exactly one terminal event, of its status",
    requests.filter((r) => r.terminal_events.length !== 1 || r.terminal_events[0] !== `callback.${r.status}`).map((r) => `${r.id}: ${r.status} [${r.terminal_events.join(", ")}]`),
    "one each"
  )

  const sids = (await query<{ call_sid: string }>(url, "SELECT call_sid FROM call_attempts WHERE to_phone = ANY($1) AND call_sid IS NOT NULL", [phones])).map((r) => r.call_sid)
  const calls: Array<SimCall> = []
  const crowded: Array<string> = []
  for (const business of options.businesses) {
    const response = await fetch(`${options.simulatorUrl}/sim/calls?to=${encodeURIComponent(business.phone)}`)
    const toBusiness = (await response.json()) as ReadonlyArray<SimCall>
    const most = mostAtOnce(toBusiness)
    if (most > business.maxConcurrentCalls) crowded.push(`${business.phone}: ${most} at once, limit ${business.maxConcurrentCalls}`)
    calls.push(...toBusiness)
  }
  const owned = new Set(sids)
  const placed = new Set(calls.map((c) => c.sid))
  verdict(
    "simulator calls == attempts' sids",
    [...calls.filter((c) => !owned.has(c.sid)).map((c) => `call ${c.sid} without an attempt`), ...sids.filter((sid) => !placed.has(sid)).map((sid) => `attempt sid ${sid} not a call`)],
    `${calls.length} calls, ${sids.length} sids`
  )
  const unresolved = await unresolvedAttempts(url, phones)
  verdict("no attempt unresolved", unresolved > 0 ? [`${unresolved} attempts placing or unknown`] : [], "none")
  verdict("never more calls at once than maxConcurrentCalls", crowded, "within every limit")
  const running = await query<{ id: string; kind: string }>(url, `SELECT id, kind ${RUNNING_JOBS}`)
  verdict("no job running", running.map((j) => `${j.kind} #${j.id}`), "none")
  const leases = await slotLeases(url)
  verdicts.push(
    leases === undefined
      ? { name: "no slot lease held", pass: true, detail: "no job_slot_leases table" }
      : { name: "no slot lease held", pass: leases === 0, detail: `${leases} rows` }
  )

  const outcomes: Record<string, number> = {}
  for (const r of requests) outcomes[r.status] = (outcomes[r.status] ?? 0) + 1
  return {
    verdicts,
    failed: verdicts.filter((v) => !v.pass),
    calls: calls.length,
    outcomes,
    attempts: new Map(requests.map((r) => [r.id, Number(r.attempts)]))
  }
}
