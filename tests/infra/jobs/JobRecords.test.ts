/** Job rows decode through the domain's Job schema: what pg returns becomes a record; what the model does not know fails loudly. */
import { describe, expect, it } from "vitest"
import { recordOf } from "../../../infra/jobs/JobRecords.ts"

const row = {
  id: "42",
  queue: "default",
  kind: "diagnostics.ping",
  args: { message: "hi" },
  state: "retryable",
  priority: 2,
  run_at: new Date("2030-01-01T00:00:05Z"),
  attempt: 1,
  max_attempts: 3,
  locked_by: null,
  attempted_at: new Date("2030-01-01T00:00:00Z"),
  finished_at: null,
  errors: [{ attempt: 1, at: "2030-01-01T00:00:01.000Z", kind: "retryable", message: "boom" }],
  unique_key: null,
  concurrency_key: "business:1",
  concurrency_limit: 2,
  waiting_for_slot: false,
  created_at: new Date("2030-01-01T00:00:00Z"),
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
}

describe("job rows", () => {
  it("decode into records with camelCase fields, dates and nulls kept", () => {
    const record = recordOf(row)
    expect(record).toEqual({
      id: "42",
      queue: "default",
      kind: "diagnostics.ping",
      args: { message: "hi" },
      state: "retryable",
      priority: 2,
      runAt: row.run_at,
      attempt: 1,
      maxAttempts: 3,
      lockedBy: null,
      attemptedAt: row.attempted_at,
      finishedAt: null,
      errors: row.errors,
      uniqueKey: null,
      concurrencyKey: "business:1",
      concurrencyLimit: 2,
      waitingForSlot: false,
      createdAt: row.created_at,
      traceparent: row.traceparent
    })
  })

  it("refuse a state outside the domain's union, an id that is not a job id, and a malformed attempt error", () => {
    expect(() => recordOf({ ...row, state: "paused" })).toThrow(/state/)
    expect(() => recordOf({ ...row, id: "0" })).toThrow(/job id/)
    expect(() => recordOf({ ...row, errors: [{ attempt: 1, message: "no kind" }] })).toThrow(/errors/)
  })
})
