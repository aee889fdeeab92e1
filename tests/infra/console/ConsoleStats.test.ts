/**
 * The console's measurements against real Postgres (migrations/0017): the
 * wait from verification to the first call over windows and per hour, and the
 * jobs each queue finished per minute over the last hour. Rows are written
 * with plain SQL at instants placed well inside their window or bucket, and
 * each expected answer is worked out here, in TypeScript, from those rows
 * (percentiles by linear interpolation, as percentile_cont defines them);
 * the plans are checked to read the new indexes rather than scan.
 */
import { randomUUID } from "node:crypto"
import * as ManagedRuntime from "effect/ManagedRuntime"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { dialLatency, hourlyDialLatency, jobsFinishedPerMinute, type MinuteCount } from "../../../infra/console/ConsoleStats.ts"
import { cloneDatabase, databaseLayer, query } from "../../support/database.ts"

const runtimeOver = (databaseUrl: string) => ManagedRuntime.make(databaseLayer(databaseUrl, 2))

let url: string
let runtime: ReturnType<typeof runtimeOver>
beforeAll(async () => {
  url = await cloneDatabase()
  runtime = runtimeOver(url)
})
afterAll(() => runtime.dispose())

const HOUR = 3_600_000
const MINUTE = 60_000

/** The database's clock, in epoch milliseconds. */
const dbNow = async () => Number((await query<{ ms: string }>(url, "SELECT (extract(epoch FROM now()) * 1000)::bigint::text AS ms"))[0]?.ms)

/**
 * `read`'s answer with the database's time just before and after it, retried until both fall in the same
 * bucket of `unit` ms (a read that straddles the turn of an hour or a minute would have nothing to compare to).
 */
const inOneBucket = async <A>(unit: number, read: () => Promise<A>): Promise<{ readonly value: A; readonly bucket: number }> => {
  for (;;) {
    const before = Math.floor((await dbNow()) / unit)
    const value = await read()
    const after = Math.floor((await dbNow()) / unit)
    if (before === after) return { value, bucket: before }
  }
}

/** percentile_cont's definition: linear interpolation between the closest ranks of the sorted values. */
const percentile = (values: ReadonlyArray<number>, p: number): number | null => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const at = p * (sorted.length - 1)
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return (sorted[lo] ?? 0) + ((sorted[hi] ?? 0) - (sorted[lo] ?? 0)) * (at - lo)
}

describe("the wait from verification to the first call", () => {
  interface Dial {
    /** When its first call started, ms before the test's start. */
    readonly startedAgo: number
    /** Seconds from when it was due to that start. */
    readonly wait: number
    /** Verified this long (ms) before it was due: the business was closed and opened later. */
    readonly closedFor?: number
    /** A second call after the first (which must not count). */
    readonly secondCall?: boolean
  }

  let now0 = 0
  const dials: Array<Dial & { readonly startedAt: number }> = []

  const business = randomUUID()
  /** A request with a verified event (and, when `dial` says, its calls); `verifiedAt` when it has no call yet. */
  const request = async (client: pg.Client, verifiedAt: number, due: number, calls: ReadonlyArray<number>) => {
    const id = randomUUID()
    await client.query("INSERT INTO callback_requests (id, business_id, phone, status) VALUES ($1, $2, $3, 'dialing')", [id, business, `+1415555${String(dials.length).padStart(4, "0")}`])
    await client.query(
      `INSERT INTO callback_events (tx, callback_id, business_id, seq, type, status, data, at)
       VALUES (pg_current_xact_id(), $1, $2, 1, 'callback.created', 'pending_verification', '{"priority":"normal"}', $3),
              (pg_current_xact_id(), $1, $2, 2, 'callback.verified', 'queued', jsonb_build_object('scheduledFor', $4::text), $5)`,
      [id, business, new Date(verifiedAt - 1000), new Date(due).toISOString(), new Date(verifiedAt)]
    )
    for (const [i, startedAt] of calls.entries()) {
      await client.query(
        `INSERT INTO call_attempts (id, callback_id, n, level, attempt_on_number, to_phone, ring_seconds, from_status, started_at)
         VALUES ($1, $2, $3, 0, $3, '+14155550000', 20, 'queued', $4)`,
        [randomUUID(), id, i + 1, new Date(startedAt)]
      )
    }
  }

  beforeAll(async () => {
    now0 = await dbNow()
    const hourStart = Math.floor(now0 / HOUR) * HOUR
    /** The middle of the hour `k` hours before this one (this one: halfway from its start to now). */
    const inHour = (k: number) => (k === 0 ? hourStart + (now0 - hourStart) / 2 : hourStart - k * HOUR + HOUR / 2)
    const plan: Array<Dial & { readonly startedAt: number }> = [
      // this hour, and so the last hour too
      ...[5, 7, 12, 30].map((wait) => ({ startedAgo: now0 - inHour(0), startedAt: inHour(0), wait })),
      // opened 1 min before its call, verified 40 min before that: waited a minute, not 41
      { startedAgo: now0 - inHour(0), startedAt: inHour(0), wait: 60, closedFor: 40 * MINUTE },
      // a call of the last 24 hours, with a second call later that does not count
      { startedAgo: now0 - inHour(3), startedAt: inHour(3), wait: 60, secondCall: true },
      { startedAgo: now0 - inHour(3), startedAt: inHour(3), wait: 90 },
      { startedAgo: now0 - inHour(5), startedAt: inHour(5), wait: 2.5 },
      { startedAgo: now0 - inHour(22), startedAt: inHour(22), wait: 300 },
      // the last 7 days, not the last day
      { startedAgo: 2 * 24 * HOUR, startedAt: now0 - 2 * 24 * HOUR, wait: 600 },
      { startedAgo: 6 * 24 * HOUR, startedAt: now0 - 6 * 24 * HOUR, wait: 1200 },
      // older than 7 days: in no window
      { startedAgo: 8 * 24 * HOUR, startedAt: now0 - 8 * 24 * HOUR, wait: 9999 }
    ]
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query("INSERT INTO businesses (id, name, phone, timezone) VALUES ($1, 'Stats Ltd', '+14155550000', 'UTC')", [business])
      for (const dial of plan) {
        const due = dial.startedAt - dial.wait * 1000
        await request(client, due - (dial.closedFor ?? 0), due, dial.secondCall === true ? [dial.startedAt, dial.startedAt + 1000] : [dial.startedAt])
        dials.push(dial)
      }
      // verified a minute ago and not called yet: in no window until it is called
      await request(client, now0 - MINUTE, now0 - MINUTE, [])
    } finally {
      await client.end()
    }
  })

  it("gives the median and 90th percentile of the first calls started in each window, from when each was due", async () => {
    const windows = await runtime.runPromise(dialLatency([1, 24, 168]))
    const expected = [1, 24, 168].map((hours) => {
      const waits = dials.filter((d) => d.startedAgo < hours * HOUR).map((d) => d.wait)
      return { hours, dialed: waits.length, p50Seconds: percentile(waits, 0.5), p90Seconds: percentile(waits, 0.9) }
    })
    expect(expected.map((w) => w.dialed)).toEqual([5, 9, 11]) // the plan's own arithmetic, so a wrong plan cannot pass unnoticed
    expect(windows.map((w) => [w.hours, w.dialed])).toEqual(expected.map((w) => [w.hours, w.dialed]))
    for (const [i, w] of windows.entries()) {
      expect(w.p50Seconds, `p50 over ${w.hours} h`).toBeCloseTo(expected[i]?.p50Seconds ?? Number.NaN, 3)
      expect(w.p90Seconds, `p90 over ${w.hours} h`).toBeCloseTo(expected[i]?.p90Seconds ?? Number.NaN, 3)
    }
  })

  it("answers none, not zero, for a window without a first call", async () => {
    const empty = await cloneDatabase()
    const emptyRuntime = runtimeOver(empty)
    try {
      expect(await emptyRuntime.runPromise(dialLatency([1, 24]))).toEqual([
        { hours: 1, dialed: 0, p50Seconds: null, p90Seconds: null },
        { hours: 24, dialed: 0, p50Seconds: null, p90Seconds: null }
      ])
      expect(await emptyRuntime.runPromise(hourlyDialLatency(3))).toEqual([0, 1, 2].map(() => ({ dialed: 0, p50Seconds: null })))
    } finally {
      await emptyRuntime.dispose()
    }
  })

  it("gives each of the last 24 hours its first calls' median, the current hour last", async () => {
    const { value: hours, bucket } = await inOneBucket(HOUR, () => runtime.runPromise(hourlyDialLatency(24)))
    const expected = Array.from({ length: 24 }, (_, i) => {
      const waits = dials.filter((d) => Math.floor(d.startedAt / HOUR) === bucket - (23 - i)).map((d) => d.wait)
      return { dialed: waits.length, p50Seconds: percentile(waits, 0.5) }
    })
    expect(expected.filter((h) => h.dialed > 0).length).toBe(4) // this hour, 3, 5 and 22 hours ago (still in the 24 if the hour turned since)
    expect(hours.map((h) => h.dialed)).toEqual(expected.map((h) => h.dialed))
    for (const [i, h] of hours.entries()) {
      if (expected[i]?.p50Seconds === null) expect(h.p50Seconds, `hour ${i}`).toBeNull()
      else expect(h.p50Seconds, `hour ${i}`).toBeCloseTo(expected[i]?.p50Seconds ?? Number.NaN, 3)
    }
  })

  it("reads the first calls by their start, and each one's verification, through their indexes, not a scan", async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query("SET enable_seqscan = off") // the table is tiny here: ask which plan the planner can find, not which it prefers
      const plan = (
        await client.query(
          `EXPLAIN SELECT a.started_at, v.at FROM call_attempts a
             JOIN LATERAL (SELECT e.at, e.data FROM callback_events e WHERE e.callback_id = a.callback_id AND e.type = 'callback.verified' LIMIT 1) v ON true
            WHERE a.n = 1 AND a.started_at > now() - interval '168 hours'`
        )
      ).rows
        .map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"])
        .join("\n")
      expect(plan).toContain("call_attempts_first_started_idx")
      expect(plan).toContain("callback_events_verified_idx")
    } finally {
      await client.end()
    }
  })
})

describe("jobs finished per minute", () => {
  interface Finished {
    readonly queue: string
    readonly state: "completed" | "discarded" | "cancelled"
    readonly at: number
  }
  const finished: Array<Finished> = []
  /** The minute the rows were placed from; a read may come a minute later, and the checks by hand allow for it. */
  let placedIn = 0

  beforeAll(async () => {
    const now0 = await dbNow()
    placedIn = Math.floor(now0 / MINUTE)
    const minuteStart = Math.floor(now0 / MINUTE) * MINUTE
    /** The middle of the minute `k` minutes before this one (this one: halfway from its start to now). */
    const inMinute = (k: number) => (k === 0 ? minuteStart + (now0 - minuteStart) / 2 : minuteStart - k * MINUTE + MINUTE / 2)
    const rows: ReadonlyArray<Finished> = [
      ...[0, 0, 1, 5, 5, 5, 58].map((k) => ({ queue: "stats-a", state: "completed" as const, at: inMinute(k) })),
      { queue: "stats-a", state: "discarded", at: inMinute(5) },
      { queue: "stats-a", state: "cancelled", at: inMinute(2) }, // an operator's, not work done
      { queue: "stats-a", state: "completed", at: inMinute(60) }, // an hour ago: out of the window
      { queue: "stats-a", state: "completed", at: inMinute(300) },
      { queue: "stats-b", state: "discarded", at: inMinute(30) },
      { queue: "stats-b", state: "discarded", at: inMinute(30) }
    ]
    finished.push(...rows)
    for (const row of rows) {
      await query(url, "INSERT INTO jobs (queue, kind, state, finished_at) VALUES ($1, 'stats.job', $2::job_state, $3)", [row.queue, row.state, new Date(row.at)])
    }
    // unfinished jobs of the queue: none of them counts
    await query(url, "INSERT INTO jobs (queue, kind, state) VALUES ('stats-a', 'stats.job', 'available'), ('stats-a', 'stats.job', 'retryable'), ('stats-c', 'stats.job', 'scheduled')")
  })

  it("counts each queue's completed and discarded jobs in each minute of the last hour, the current minute last", async () => {
    const { value: byQueue, bucket } = await inOneBucket(MINUTE, () => runtime.runPromise(jobsFinishedPerMinute(60)))
    const expected = new Map<string, Array<MinuteCount>>()
    for (const row of finished) {
      const ago = bucket - Math.floor(row.at / MINUTE)
      if (ago < 0 || ago >= 60 || row.state === "cancelled") continue
      const minutes = expected.get(row.queue) ?? Array.from({ length: 60 }, () => ({ completed: 0, discarded: 0 }))
      const slot = minutes[59 - ago] ?? { completed: 0, discarded: 0 }
      minutes[59 - ago] = row.state === "completed" ? { ...slot, completed: slot.completed + 1 } : { ...slot, discarded: slot.discarded + 1 }
      expected.set(row.queue, minutes)
    }
    expect([...byQueue.keys()].sort()).toEqual(["stats-a", "stats-b"])
    expect(byQueue.get("stats-a")).toEqual(expected.get("stats-a"))
    expect(byQueue.get("stats-b")).toEqual(expected.get("stats-b"))
    // and by hand: 7 completed and 1 discarded in the window for stats-a, 3 completed and 1 discarded in the minute 5 ago,
    // the oldest row 58 minutes ago (every row shifts one minute older if the minute turned since they were placed)
    const shift = bucket - placedIn
    expect(shift).toBeGreaterThanOrEqual(0)
    expect(shift).toBeLessThanOrEqual(1)
    const a = byQueue.get("stats-a") ?? []
    expect(a.reduce((sum, m) => sum + m.completed, 0)).toBe(7)
    expect(a.reduce((sum, m) => sum + m.discarded, 0)).toBe(1)
    expect(a[59 - 5 - shift]).toEqual({ completed: 3, discarded: 1 })
    expect(a[59 - 58 - shift]).toEqual({ completed: 1, discarded: 0 })
  })

  it("reads finished jobs by when they finished through the index, not a scan of the jobs table", async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query("SET enable_seqscan = off")
      const plan = (
        await client.query(
          "EXPLAIN SELECT queue, count(*) FROM jobs WHERE finished_at >= date_trunc('minute', now()) - make_interval(mins => 59) AND state IN ('completed', 'discarded') GROUP BY 1"
        )
      ).rows
        .map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"])
        .join("\n")
      expect(plan).toContain("jobs_finished_idx")
    } finally {
      await client.end()
    }
  })
})
