/**
 * The request history end to end: random lifecycles through the whole app
 * (each number of the plan scripted to answer, be busy, not answer or fail;
 * an operator who cancels or retries at random points), then the history
 * `GET /v1/callbacks/{id}/events` serves must replay through the state
 * machine to the status the request has, with no gap in `seq`, one
 * `callback.dialing` per attempt, and the admin detail showing the same
 * events. The 24-hour stats count from the history: a failed request that an
 * operator retried still counts as failed.
 */
import * as Either from "effect/Either"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Schemas } from "../../../clients/switchboard/index.ts"
import { replay } from "../../../domain/callbacks/History.ts"
import { type CallbackApp, freshNumber, startCallbackApp } from "../../support/callbacks.ts"
import { cloneDatabase, eventually } from "../../support/database.ts"

type Event = Schemas["CallbackEvent"]

const Outcome = fc.constantFrom("answered", "busy", "no-answer", "failed")

describe("request history end to end", () => {
  let app: CallbackApp
  beforeAll(async () => {
    app = await startCallbackApp({ databaseUrl: await cloneDatabase(), env: { CALLBACK_RETRY_DELAYS: "100ms,100ms" } })
  })
  afterAll(() => app.dispose())

  const eventsOf = async (id: string): Promise<ReadonlyArray<Event>> => {
    const { data, response } = await app.client.GET("/v1/callbacks/{id}/events", { params: { path: { id } } })
    if (data === undefined) throw new Error(`events of ${id}: ${response.status}`)
    return data.items
  }

  /** Waits until the request is in a terminal status and its history has stopped growing (a fallback text may follow `failed`). */
  const settled = async (id: string) => {
    const done = await eventually(async () => {
      const view = await app.view(id)
      return ["completed", "failed", "cancelled", "expired"].includes(view.status) ? view : undefined
    }, 30_000, `callback ${id} to finish`)
    let last = -1
    const events = await eventually(async () => {
      const now = await eventsOf(id)
      const stable = now.length === last
      last = now.length
      if (!stable) await new Promise((resolve) => setTimeout(resolve, 300))
      return stable ? now : undefined
    }, 10_000, `the history of ${id} to settle`)
    return { view: await app.view(id), events, finishedAs: done.status }
  }

  it("property: every lifecycle's history replays to the request's status, seq 1..n, one dialing event per attempt", async () => {
    await fc.assert(
      fc.asyncProperty(
        Outcome,
        fc.option(Outcome, { nil: undefined }),
        fc.boolean(),
        fc.constantFrom("none", "cancel-unverified", "cancel-queued", "retry-when-finished"),
        async (primary, backup, smsFallback, operator) => {
          const backupPhone = freshNumber()
          const business = await app.createBusiness({ escalation: backup === undefined ? [] : [{ phone: backupPhone, ringSeconds: 5 }], smsFallback })
          await app.script(business.phone, primary, { afterMs: 20, talkMs: 20 })
          if (backup !== undefined) await app.script(backupPhone, backup, { afterMs: 20, talkMs: 20 })
          const phone = freshNumber()
          const created = await app.create(business.id, phone)
          if (operator === "cancel-unverified") {
            expect((await app.request(`/admin/api/callbacks/${created.id}/cancel`, { method: "POST", admin: true })).status).toBe(200)
          } else {
            const code = await app.codeFor(phone)
            expect((await app.verify(created.id, code)).status).toBe(200)
            if (operator === "cancel-queued") await app.request(`/admin/api/callbacks/${created.id}/cancel`, { method: "POST", admin: true })
          }
          let { view, events } = await settled(created.id)
          if (operator === "retry-when-finished" && view.status !== "completed") {
            // the retried request runs its plan again: make its first number answer this time
            await app.script(business.phone, "answered", { afterMs: 20, talkMs: 20 })
            expect((await app.request(`/admin/api/callbacks/${created.id}/retry`, { method: "POST", admin: true })).status).toBe(200)
            ;({ view, events } = await settled(created.id))
            expect(view.status).toBe("completed")
            expect(events.some((e) => e.type === "callback.retried")).toBe(true)
          }
          expect(replay(events)).toEqual(Either.right(view.status))
          expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
          expect(events.every((e) => e.callbackId === created.id && e.businessId === business.id)).toBe(true)
          expect(events.filter((e) => e.type === "callback.dialing")).toHaveLength(view.attempts.length)
          expect(events.filter((e) => e.type === "call.placed")).toHaveLength(view.attempts.length)
          expect(events.filter((e) => e.type === "callback.code_sent").length).toBeGreaterThanOrEqual(operator === "cancel-unverified" ? 0 : 1)
          // the global positions are unique and the admin detail tells the same story
          expect(new Set(events.map((e) => e.position)).size).toBe(events.length)
          const detail = await app.adminClient.GET("/admin/api/callbacks/{id}", { params: { path: { id: created.id } } })
          expect(detail.data?.events.map((e) => e.id)).toEqual(events.map((e) => e.id))
          if (view.status === "failed" && smsFallback) {
            expect(events.filter((e) => e.type === "sms.sent" && e.data.kind === "fallback")).toHaveLength(1)
          }
        }
      ),
      { numRuns: 10 }
    )
  }, 300_000)

  it("the 24-hour stats count from the history: a failed request retried to completion counts once as failed and once as completed", async () => {
    const stats = async () => (await app.adminClient.GET("/admin/api/stats")).data?.last24h ?? { created: 0, completed: 0, failed: 0 }
    const before = await stats()
    const business = await app.createBusiness({ smsFallback: false })
    await app.script(business.phone, "busy", { afterMs: 20 })
    const created = await app.verified(business.id)
    await app.waitForStatus(created.id, "failed")
    await app.script(business.phone, "answered", { afterMs: 20, talkMs: 20 })
    expect((await app.request(`/admin/api/callbacks/${created.id}/retry`, { method: "POST", admin: true })).status).toBe(200)
    await app.waitForStatus(created.id, "completed")
    expect(await stats()).toEqual({ created: before.created + 1, completed: before.completed + 1, failed: before.failed + 1 })
  })

  it("GET /v1/callbacks/{id}/events?after=n lists only what came after n; an unknown id is a 404", async () => {
    const business = await app.createBusiness()
    const created = await app.create(business.id)
    await app.codeFor(created.phone)
    const all = await eventually(async () => {
      const events = await eventsOf(created.id)
      return events.length >= 2 ? events : undefined
    }, 10_000, "the created and code_sent events")
    expect(all.slice(0, 2).map((e) => e.type)).toEqual(["callback.created", "callback.code_sent"])
    const { data } = await app.client.GET("/v1/callbacks/{id}/events", { params: { path: { id: created.id }, query: { after: "1" } } })
    expect(data?.items.map((e) => e.seq)).toEqual(all.slice(1).map((e) => e.seq))
    const missing = await app.request("/v1/callbacks/00000000-0000-4000-8000-000000000000/events")
    expect(missing.status).toBe(404)
  })
})
