/**
 * Live events over SSE against the whole app on real HTTP: the visitor's
 * stream follows its request as the flow runs and carries nothing else; its
 * token is required; a reconnect with Last-Event-ID resumes with exactly the
 * missed events; the operators' stream merges everything (or one business);
 * streams are bounded per process, send heartbeats, count in metrics and end
 * when the process shuts down.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, startSimulator } from "../../../infra/twilio/Simulator.ts"
import { ADMIN_TOKEN } from "../../support/app.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually } from "../../support/database.ts"
import { spawnApp } from "../../support/processes.ts"
import { parseExposition, valueOf } from "../../support/prometheus.ts"
import { openStream, parsed, type SseStream } from "../../support/sse.ts"

interface StreamedEvent {
  readonly id: string
  readonly type: string
  readonly seq?: number
  readonly callbackId?: string
  readonly businessId?: string | null
  readonly status?: string
  readonly position: string
}

describe("live events", () => {
  let app: CallbackApp
  let url: string
  const opened: Array<SseStream> = []

  beforeAll(async () => {
    url = await cloneDatabase()
    app = await startCallbackApp({ databaseUrl: url, env: { SSE_HEARTBEAT: "200ms", SSE_MAX_STREAMS: "6" } })
  }, 60_000)
  afterAll(async () => {
    for (const stream of opened) stream.close()
    await app.dispose()
  })

  const open = async (path: string, headers: Record<string, string> = {}) => {
    const stream = await openStream(app.baseUrl + path, headers)
    opened.push(stream)
    return stream
  }
  const visitorStream = (id: string, token: string, lastEventId?: number) =>
    open(`/v1/callbacks/${id}/stream?token=${token}`, lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) })
  const operatorStream = (query = "", lastEventId?: string) =>
    open(`/admin/api/events${query}`, { authorization: `Bearer ${ADMIN_TOKEN}`, ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }) })
  const typesOf = (stream: SseStream) => parsed<StreamedEvent>(stream.messages).map((e) => e.type)
  const historyOf = async (id: string) => ((await (await app.request(`/v1/callbacks/${id}/events`)).json()) as { items: Array<StreamedEvent> }).items

  it("the visitor's stream shows each change of its request live, and none of another request's", { timeout: 60_000 }, async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 100, talkMs: 300 })
    const created = await app.create(business.id)
    const other = await app.create(business.id)
    expect(created.streamToken).toMatch(/^cst_[A-Za-z0-9_-]{43}$/)
    const stream = await visitorStream(created.id, created.streamToken ?? "")
    expect(stream.response.status).toBe(200)
    expect(stream.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
    expect(stream.response.headers.get("cache-control")).toContain("no-cache")
    await stream.waitFor((m) => m.length >= 2, "created and code sent")
    expect(typesOf(stream)).toEqual(["callback.created", "callback.code_sent"])
    // the other request moves too, on the same business
    await app.verify(other.id, await app.codeFor(other.phone))
    await app.verify(created.id, await app.codeFor(created.phone))
    await stream.waitFor((m) => parsed<StreamedEvent>(m).some((e) => e.type === "callback.completed"), "the request to complete")
    const events = parsed<StreamedEvent>(stream.messages)
    expect(events.every((e) => e.callbackId === created.id)).toBe(true)
    expect(stream.messages.map((m) => m.id)).toEqual(events.map((e) => String(e.seq)))
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    for (const type of ["callback.verified", "callback.dialing", "call.placed", "callback.connected", "callback.completed"]) expect(typesOf(stream)).toContain(type)
    // exactly the history, as the JSON list shows it
    expect(events).toEqual(await historyOf(created.id))
    expect(stream.retry()).toBeGreaterThan(0)
    stream.close()
  })

  it("refuses a stream without the token (401), with another request's (403), for an unknown request (404) and a malformed token (400)", async () => {
    const business = await app.createBusiness()
    const mine = await app.create(business.id)
    const theirs = await app.create(business.id)
    const expectProblem = async (response: Response, status: number, slug: string) => {
      expect(response.status).toBe(status)
      expect(response.headers.get("content-type")).toContain("application/problem+json")
      expect(((await response.json()) as { type: string }).type).toBe(`/problems/${slug}`)
    }
    await expectProblem(await app.request(`/v1/callbacks/${mine.id}/stream`), 401, "unauthorized")
    await expectProblem(await app.request(`/v1/callbacks/${mine.id}/stream?token=${theirs.streamToken}`), 403, "forbidden")
    await expectProblem(await app.request(`/v1/callbacks/${mine.id}/stream`, { headers: { authorization: `Bearer ${theirs.streamToken}` } }), 403, "forbidden")
    await expectProblem(await app.request(`/v1/callbacks/00000000-0000-4000-8000-000000000000/stream?token=${mine.streamToken}`), 404, "not-found")
    await expectProblem(await app.request(`/v1/callbacks/${mine.id}/stream?token=cst_short`), 400, "validation")
    // the token in the Authorization header opens it as well as in the query
    const byHeader = await open(`/v1/callbacks/${mine.id}/stream`, { authorization: `Bearer ${mine.streamToken}` })
    expect(byHeader.response.status).toBe(200)
    await byHeader.waitFor((m) => m.length >= 1, "the first event")
    byHeader.close()
    // the admin token is not a request's token
    await expectProblem(await app.request(`/v1/callbacks/${mine.id}/stream`, { admin: true }), 400, "validation")
  })

  it("a reconnect with Last-Event-ID gets exactly the events it missed, wherever it disconnected", { timeout: 90_000 }, async () => {
    const business = await app.createBusiness()
    await app.script(business.phone, "answered", { afterMs: 50, talkMs: 100 })
    const created = await app.create(business.id)
    // live: disconnect after the first event, reconnect after the request moved on
    const first = await visitorStream(created.id, created.streamToken ?? "")
    await first.waitFor((m) => m.length >= 1, "the first event")
    first.close()
    const seenFirst = parsed<StreamedEvent>(first.messages)
    await app.verify(created.id, await app.codeFor(created.phone))
    await app.waitForStatus(created.id, "completed")
    const lastSeen = seenFirst[seenFirst.length - 1]?.seq ?? 0
    const second = await visitorStream(created.id, created.streamToken ?? "", lastSeen)
    const all = await historyOf(created.id)
    await second.waitFor((m) => m.length >= all.length - lastSeen, "the missed events")
    expect([...seenFirst, ...parsed<StreamedEvent>(second.messages)]).toEqual(all)
    second.close()
    // any disconnect point: what a reconnect from there gets is exactly the rest
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: all.length }), async (lastEventId) => {
        const resumed = await visitorStream(created.id, created.streamToken ?? "", lastEventId)
        try {
          await resumed.waitFor((m) => m.length >= all.length - lastEventId, `the events after ${lastEventId}`, 5_000)
          // nothing more arrives after the rest (a heartbeat later, still the same)
          await resumed.waitFor(() => resumed.comments.filter((c) => c === "heartbeat").length >= 1, "a heartbeat", 5_000)
          expect(parsed<StreamedEvent>(resumed.messages)).toEqual(all.slice(lastEventId))
        } finally {
          resumed.close()
        }
      }),
      { numRuns: 12 }
    )
  })

  it("the operators' stream merges every request's events in one order, or one business's; it resumes from Last-Event-ID", { timeout: 60_000 }, async () => {
    const a = await app.createBusiness()
    const b = await app.createBusiness()
    const all = await operatorStream()
    const onlyA = await operatorStream(`?businessId=${a.id}`)
    expect(all.response.status).toBe(200)
    const ra = await app.create(a.id)
    const rb = await app.create(b.id)
    await app.verify(ra.id, await app.codeFor(ra.phone))
    const expected = await historyOf(ra.id)
    await onlyA.waitFor((m) => parsed<StreamedEvent>(m).filter((e) => e.callbackId === ra.id).length >= 3, "a's created, code sent and verified")
    await all.waitFor((m) => parsed<StreamedEvent>(m).some((e) => e.callbackId === rb.id && e.type === "callback.code_sent"), "b's text")
    const aEvents = parsed<StreamedEvent>(onlyA.messages)
    expect(aEvents.every((e) => e.businessId === a.id)).toBe(true)
    expect(aEvents.map((e) => e.position)).toEqual(onlyA.messages.map((m) => m.id))
    expect(parsed<StreamedEvent>(all.messages).some((e) => e.businessId === b.id)).toBe(true)
    // each request's events in seq order, none twice, on the merged stream
    for (const id of [ra.id, rb.id]) {
      const seqs = parsed<StreamedEvent>(all.messages).filter((e) => e.callbackId === id).map((e) => e.seq)
      expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    }
    expect(aEvents.slice(0, 3).map((e) => e.id)).toEqual(expected.slice(0, 3).map((e) => e.id))
    // the log lists the same events in the same order, a page at a time
    const log: Array<StreamedEvent> = []
    for (let after: string | undefined; ; ) {
      const { data } = await app.adminClient.GET("/admin/api/event-log", { params: { query: { businessId: a.id, limit: "2", ...(after === undefined ? {} : { after }) } } })
      log.push(...((data?.items ?? []) as Array<StreamedEvent>))
      after = data?.nextCursor
      if (after === undefined) break
    }
    expect(log.length).toBeGreaterThanOrEqual(3)
    await onlyA.waitFor((m) => m.length >= log.length, "the stream to catch up with the log")
    expect(parsed<StreamedEvent>(onlyA.messages).slice(0, log.length)).toEqual(log)
    // resume from the first event: exactly the ones after it
    const firstId = all.messages[0]?.id ?? ""
    const seen = all.messages.length
    all.close()
    const resumed = await operatorStream("", firstId)
    await resumed.waitFor((m) => m.length >= seen - 1, "the events after the first")
    expect(resumed.messages.slice(0, seen - 1)).toEqual(all.messages.slice(1))
    resumed.close()
    onlyA.close()
    // without the admin token: refused
    expect((await app.request("/admin/api/events")).status).toBe(401)
  })

  it("a process serves at most SSE_MAX_STREAMS streams: past it a 503 with Retry-After; a closed stream frees its slot; metrics count them", { timeout: 30_000 }, async () => {
    for (const stream of opened) stream.close()
    const metric = async (name: string, labels: Record<string, string>) => valueOf(parseExposition(await (await app.request("/metrics")).text()), name, labels) ?? 0
    await eventually(async () => ((await metric("switchboard_sse_streams", { kind: "operator" })) + (await metric("switchboard_sse_streams", { kind: "visitor" })) === 0 ? true : undefined), 5_000, "no stream open")
    // a HEAD answers the stream's headers and holds no slot
    for (let i = 0; i < 8; i++) {
      const head = await app.request("/admin/api/events", { method: "HEAD", admin: true })
      expect([head.status, head.headers.get("content-type")]).toEqual([200, "text/event-stream; charset=utf-8"])
    }
    expect(await metric("switchboard_sse_streams", { kind: "operator" })).toBe(0)
    const streams = await Promise.all(Array.from({ length: 6 }, () => operatorStream()))
    expect(streams.map((s) => s.response.status)).toEqual([200, 200, 200, 200, 200, 200])
    expect(await metric("switchboard_sse_streams", { kind: "operator" })).toBe(6)
    const refusedBefore = await metric("switchboard_sse_refused_total", { kind: "operator", reason: "full" })
    const full = await app.request("/admin/api/events", { admin: true })
    expect(full.status).toBe(503)
    expect(full.headers.get("retry-after")).toBe("5")
    expect(((await full.json()) as { detail: string }).detail).toContain("maximum of 6")
    expect(await metric("switchboard_sse_refused_total", { kind: "operator", reason: "full" })).toBe(refusedBefore + 1)
    streams[0]?.close()
    await eventually(async () => ((await metric("switchboard_sse_streams", { kind: "operator" })) === 5 ? true : undefined), 5_000, "the slot to be freed")
    const again = await operatorStream()
    expect(again.response.status).toBe(200)
    // heartbeats keep idle streams alive
    await again.waitFor(() => again.comments.includes("heartbeat"), "a heartbeat", 5_000)
    for (const stream of [...streams, again]) stream.close()
    await eventually(async () => ((await metric("switchboard_sse_streams", { kind: "operator" })) === 0 ? true : undefined), 5_000, "every slot freed")
  })
})

describe("live events at shutdown", () => {
  it("open streams end when the process begins draining, and shutdown does not wait on them", { timeout: 60_000 }, async () => {
    const app = await startCallbackApp({ databaseUrl: await cloneDatabase() })
    const business = await app.createBusiness()
    const created = await app.create(business.id)
    const visitor = await openStream(`${app.baseUrl}/v1/callbacks/${created.id}/stream?token=${created.streamToken}`)
    const operator = await openStream(`${app.baseUrl}/admin/api/events`, { authorization: `Bearer ${ADMIN_TOKEN}` })
    await visitor.waitFor((m) => m.length >= 1, "the first event")
    // the server's close waits for open connections: a stream that did not end would hold it until the test times out
    await app.dispose()
    await Promise.all([visitor.ended, operator.ended])
    expect(visitor.isEnded() && operator.isEnded()).toBe(true)
  })
})

describe("live events across processes", () => {
  it("changes made by a worker process reach the streams a web process serves", { timeout: 90_000 }, async () => {
    const url = await cloneDatabase()
    const simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
    try {
      const env = { TWILIO_SIMULATOR_URL: simulator.url, ADMIN_TOKEN, QUEUES: "default:2,calls:4,sms:2", LOG_LEVEL: "info" }
      const web = spawnApp(url, { ...env, ROLE: "web" })
      const worker = spawnApp(url, { ...env, ROLE: "worker" })
      const webUrl = await web.ready()
      await worker.ready()
      const post = async (path: string, body: unknown, admin = false) =>
        (await fetch(webUrl + path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...(admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) } })).json() as Promise<Record<string, string>>
      const line = freshNumber()
      await fetch(`${simulator.url}/sim/numbers/${encodeURIComponent(line)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ outcome: "answered", afterMs: 50, talkMs: 100 }) })
      const business = await post("/admin/api/businesses", { name: "Two tier", phone: line, timezone: "UTC" }, true)
      const operator = await openStream(`${webUrl}/admin/api/events?businessId=${business["id"]}`, { authorization: `Bearer ${ADMIN_TOKEN}` })
      const visitorPhone = freshNumber()
      const created = await post("/v1/callbacks", { businessId: business["id"], phone: visitorPhone }, true)
      const visitor = await openStream(`${webUrl}/v1/callbacks/${created["id"]}/stream?token=${created["streamToken"]}`)
      // the text is sent by the worker: its event reaches the web process's streams
      await visitor.waitFor((m) => parsed<StreamedEvent>(m).some((e) => e.type === "callback.code_sent"), "the code sent by the worker")
      const code = await eventually(async () => {
        const texts = (await (await fetch(`${simulator.url}/sim/messages?to=${encodeURIComponent(visitorPhone)}`)).json()) as ReadonlyArray<{ body: string }>
        return /\d{6}/.exec(texts[0]?.body ?? "")?.[0]
      }, 20_000, "the verification text")
      await post(`/v1/callbacks/${created["id"]}/verification`, { code })
      await visitor.waitFor((m) => parsed<StreamedEvent>(m).some((e) => e.type === "callback.completed"), "the call placed and finished by the worker")
      const types = parsed<StreamedEvent>(visitor.messages).map((e) => e.type)
      for (const type of ["callback.created", "callback.code_sent", "callback.verified", "callback.dialing", "call.placed", "callback.connected", "callback.completed"]) {
        expect(types).toContain(type)
      }
      await operator.waitFor((m) => parsed<StreamedEvent>(m).some((e) => e.type === "callback.completed"), "the operators' stream to see the end")
      expect(parsed<StreamedEvent>(operator.messages).filter((e) => e.callbackId === created["id"])).toEqual(parsed<StreamedEvent>(visitor.messages))
      visitor.close()
      operator.close()
    } finally {
      await simulator.close()
    }
  })
})
