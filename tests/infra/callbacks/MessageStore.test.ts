/**
 * The message store against real Postgres: a notice or fallback is recorded
 * once per request generation (verification codes every time); a sent text is
 * `queued` unless a report came first; a status report applies exactly when
 * the domain's ranks say it moves the text forward, which is what the CASE
 * ranks it replaced said, for every pair of statuses.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SmsStatus } from "../../../domain/callbacks/Business.ts"
import { isMessageProgress } from "../../../domain/callbacks/CallProgress.ts"
import { MessageStore } from "../../../infra/callbacks/MessageStore.ts"
import { callbackStoresRuntime, pendingRequest } from "../../support/callbackStores.ts"
import { cloneDatabase, query } from "../../support/database.ts"

let url: string
let runtime: ReturnType<typeof callbackStoresRuntime>
let callbackId: string
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = callbackStoresRuntime(url)
  callbackId = (await runtime.runPromise(pendingRequest)).request.id
})
afterAll(() => runtime.dispose())

const messages = <A, E>(f: (store: MessageStore) => Effect.Effect<A, E>) => runtime.runPromise(Effect.flatMap(MessageStore, f))
const statusOf = async (id: string) => (await query<{ status: string }>(url, "SELECT status FROM sms_messages WHERE id = $1", [id]))[0]?.status

/** Every status a message row can hold or a report can bring, and words Twilio may add. */
const statuses = [...SmsStatus.literals, "partially_delivered", "delivered-ish"]

describe("message store", () => {
  it("records a notice or fallback once per generation, a verification code every time", async () => {
    const insert = (kind: "verification" | "circuit_notice" | "fallback", generation: number) =>
      messages((s) => s.insert({ id: randomUUID(), callbackId, kind, generation, to: "+14155550199" }))
    expect([await insert("fallback", 0), await insert("fallback", 0), await insert("fallback", 1)]).toEqual([true, false, true])
    expect([await insert("circuit_notice", 0), await insert("circuit_notice", 0)]).toEqual([true, false])
    expect([await insert("verification", 0), await insert("verification", 0)]).toEqual([true, true])
  })

  it("a sent text is queued, unless a report came first; a failed one keeps its error", async () => {
    const sent = randomUUID()
    await messages((s) => s.insert({ id: sent, callbackId, kind: "verification", generation: 0, to: "+14155550199" }))
    await messages((s) => s.setSent(sent, "SM1"))
    expect(await statusOf(sent)).toBe("queued")

    const reportedFirst = randomUUID()
    await messages((s) => s.insert({ id: reportedFirst, callbackId, kind: "verification", generation: 0, to: "+14155550199" }))
    await messages((s) => s.report(reportedFirst, "delivered", 3))
    await messages((s) => s.setSent(reportedFirst, "SM2"))
    expect(await statusOf(reportedFirst)).toBe("delivered")

    const failed = randomUUID()
    await messages((s) => s.insert({ id: failed, callbackId, kind: "verification", generation: 0, to: "+14155550199" }))
    await messages((s) => s.setFailed(failed, "not_sent", "refused"))
    expect(await query(url, "SELECT status, error FROM sms_messages WHERE id = $1", [failed])).toEqual([{ status: "not_sent", error: "refused" }])
    await messages((s) => s.remove(failed))
    expect(await statusOf(failed)).toBeUndefined()
  })

  it("the domain's ranks say what the CASE ranks they replaced said, for every pair", async () => {
    const [{ pairs } = { pairs: [] }] = await query<{ pairs: Array<{ stored: string; reported: string; applies: boolean }> }>(
      url,
      `SELECT json_agg(json_build_object('stored', s, 'reported', r, 'applies',
                (CASE r WHEN 'queued' THEN 1 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END)
              > (CASE s WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'undelivered' THEN 3 WHEN 'failed' THEN 3 ELSE 0 END))) AS pairs
         FROM unnest($1::text[]) AS s, unnest($1::text[]) AS r`,
      [statuses]
    )
    expect(pairs).toHaveLength(statuses.length ** 2)
    for (const { stored, reported, applies } of pairs) expect(isMessageProgress(stored, reported), `${stored} <- ${reported}`).toBe(applies)
  })

  it("applies a report exactly when it moves the text forward, for every pair", async () => {
    const rows = statuses.flatMap((stored) => statuses.map((reported) => ({ id: randomUUID(), stored, reported })))
    await query(
      url,
      `INSERT INTO sms_messages (id, callback_id, kind, to_phone, status)
       SELECT id, $2, 'verification', '+14155550199', status FROM unnest($1::uuid[], $3::text[]) AS m (id, status)`,
      [rows.map((r) => r.id), callbackId, rows.map((r) => r.stored)]
    )
    await runtime.runPromise(Effect.forEach(rows, (row) => Effect.flatMap(MessageStore, (s) => s.report(row.id, row.reported, 1)), { concurrency: 2, discard: true }))
    const after = new Map(
      (await query<{ id: string; status: string }>(url, "SELECT id, status FROM sms_messages WHERE id = ANY($1::uuid[])", [rows.map((r) => r.id)])).map((r) => [r.id, r.status])
    )
    for (const { id, stored, reported } of rows) {
      expect(after.get(id), `${stored} <- ${reported}`).toBe(isMessageProgress(stored, reported) ? reported : stored)
    }
  })
})
