/**
 * Model-based test of the job store against real Postgres: random enqueue,
 * claim, complete, fail, snooze, cancel, process crash, rescue and promotion,
 * checked after every step against a model of what must be true:
 * no job lost, never two live leases on one job, attempts <= max_attempts,
 * terminal states final, and every job in the state the model predicts.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import fc from "fast-check"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type JobState, isTerminal, sourcesOf } from "../../../domain/jobs/JobState.ts"
import type { AttemptRef, Outcome } from "../../../infra/jobs/JobRecords.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { cloneDatabase, storeRuntime } from "../../support/database.ts"

const RUNS = Number(process.env.MODEL_RUNS ?? 200)
const PROCESSES = 3

interface ModelJob {
  state: JobState
  attempt: number
  maxAttempts: number
  lease: string | undefined
  holder: number | undefined
}

interface Model {
  jobs: Map<string, ModelJob>
  /** What each worker believes it holds: job id -> lease (kept after a crash: zombies remember). */
  views: Array<Map<string, string>>
  processIds: Array<string>
  alive: Array<boolean>
}

type Real = ManagedRuntime.ManagedRuntime<JobStore | ProcessRegistry | SqlClient.SqlClient, unknown>

let runtime: Real

const run = <A>(effect: Effect.Effect<A, unknown, JobStore | ProcessRegistry | SqlClient.SqlClient>) => runtime.runPromise(effect)

const store = <A>(f: (s: JobStore) => Effect.Effect<A, unknown>) => run(Effect.flatMap(JobStore, f))

/** Compares the database with the model and checks the invariants. */
const check = async (model: Model) => {
  const rows = await run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ id: string; state: JobState; attempt: number; max_attempts: number; lease: string | null }>`
        SELECT id, state, attempt, max_attempts, lease FROM jobs ORDER BY id`
    )
  )
  expect(rows.map((r) => r.id).sort()).toEqual([...model.jobs.keys()].sort()) // no job lost, none invented
  for (const row of rows) {
    const expected = model.jobs.get(row.id) as ModelJob
    expect(row.attempt).toBeLessThanOrEqual(row.max_attempts)
    expect({ id: row.id, state: row.state, attempt: row.attempt }).toEqual({ id: row.id, state: expected.state, attempt: expected.attempt })
    if (row.state === "running") {
      expect(row.lease).toBe(expected.lease)
      const holders = model.views.filter((view) => view.get(row.id) === row.lease)
      expect(holders).toHaveLength(1) // exactly one live lease
    } else expect(row.lease).toBeNull()
  }
}

const terminalSnapshot = (model: Model) =>
  new Map([...model.jobs].filter(([, job]) => isTerminal(job.state)).map(([id, job]) => [id, job.state]))

const assertTerminalsFinal = (before: Map<string, JobState>, model: Model) => {
  for (const [id, state] of before) expect(model.jobs.get(id)?.state).toBe(state)
}

/** The model's own oracle of where each outcome leaves a job. */
const stateAfter: Record<Outcome["_tag"], JobState> = {
  Completed: "completed",
  Retry: "retryable",
  Discard: "discarded",
  Snooze: "scheduled",
  HandBack: "available"
}

class Enqueue implements fc.AsyncCommand<Model, Real> {
  readonly count: number
  readonly maxAttempts: number
  constructor(count: number, maxAttempts: number) {
    this.count = count
    this.maxAttempts = maxAttempts
  }
  check = () => true
  async run(model: Model) {
    const jobs = Array.from({ length: this.count }, (_, i) => ({ queue: "model", kind: "model.job", args: { i }, priority: 2, maxAttempts: this.maxAttempts }))
    const inserted = await store((s) => Effect.forEach(jobs, (job) => s.insert(job)))
    for (const { id } of inserted) model.jobs.set(id, { state: "available", attempt: 0, maxAttempts: this.maxAttempts, lease: undefined, holder: undefined })
    await check(model)
  }
  toString = () => `enqueue(${this.count}, max=${this.maxAttempts})`
}

class Claim implements fc.AsyncCommand<Model, Real> {
  readonly worker: number
  readonly limit: number
  constructor(worker: number, limit: number) {
    this.worker = worker
    this.limit = limit
  }
  check = (model: Model) => model.alive[this.worker] === true
  async run(model: Model) {
    const available = [...model.jobs].filter(([, j]) => j.state === "available").map(([id]) => id)
    const claimed = await store((s) => s.claim("model", ["model.job"], this.limit, model.processIds[this.worker] as string, "30 seconds"))
    expect(claimed).toHaveLength(Math.min(this.limit, available.length))
    for (const job of claimed) {
      const modelJob = model.jobs.get(job.id) as ModelJob
      expect(modelJob.state).toBe("available")
      Object.assign(modelJob, { state: "running", attempt: modelJob.attempt + 1, lease: job.lease, holder: this.worker })
      expect(job.attempt).toBe(modelJob.attempt)
      model.views[this.worker]?.set(job.id, job.lease)
    }
    await check(model)
  }
  toString = () => `claim(w${this.worker}, ${this.limit})`
}

/** A worker writes outcomes for some of the jobs it believes it holds (a crashed one is a zombie). */
class Finish implements fc.AsyncCommand<Model, Real> {
  readonly worker: number
  readonly kind: "complete" | "fail" | "snooze"
  readonly take: number
  constructor(worker: number, kind: "complete" | "fail" | "snooze", take: number) {
    this.worker = worker
    this.kind = kind
    this.take = take
  }
  check = (model: Model) => (model.views[this.worker]?.size ?? 0) > 0
  async run(model: Model) {
    const view = model.views[this.worker] as Map<string, string>
    const refs: Array<AttemptRef> = [...view].slice(0, this.take).map(([id, lease]) => ({ id, lease }))
    const outcomeFor = (id: string): Outcome => {
      const job = model.jobs.get(id) as ModelJob
      if (this.kind === "snooze") return { _tag: "Snooze", delayMs: 0 }
      const error = { attempt: job.attempt, at: new Date().toISOString(), kind: "retryable" as const, message: "model" }
      return job.attempt >= job.maxAttempts ? { _tag: "Discard", error } : { _tag: "Retry", delayMs: 0, error }
    }
    const outcomes = new Map(refs.map((r): [string, Outcome] => [r.id, this.kind === "complete" ? { _tag: "Completed" } : outcomeFor(r.id)]))
    const changed = new Set(
      this.kind === "complete"
        ? await store((s) => s.complete(refs))
        : await store((s) => s.finish(refs.map((r) => ({ ...r, outcome: outcomes.get(r.id) as Outcome }))))
    )
    for (const { id, lease } of refs) {
      view.delete(id)
      const job = model.jobs.get(id) as ModelJob
      const live = job.state === "running" && job.lease === lease
      expect(changed.has(id)).toBe(live) // fenced writes change nothing
      if (!live) continue
      const outcome = outcomes.get(id) as Outcome
      Object.assign(job, {
        state: stateAfter[outcome._tag],
        attempt: outcome._tag === "Snooze" ? job.attempt - 1 : job.attempt,
        lease: undefined,
        holder: undefined
      })
    }
    await check(model)
  }
  toString = () => `${this.kind}(w${this.worker}, ${this.take})`
}

class Cancel implements fc.AsyncCommand<Model, Real> {
  readonly pick: number
  constructor(pick: number) {
    this.pick = pick
  }
  check = (model: Model) => model.jobs.size > 0
  async run(model: Model) {
    const ids = [...model.jobs.keys()]
    const id = ids[this.pick % ids.length] as string
    const job = model.jobs.get(id) as ModelJob
    const result = await store((s) => s.operate(id, "cancel"))
    const allowed = sourcesOf("cancel").includes(job.state)
    expect(result._tag).toBe(allowed ? "Done" : "Illegal")
    if (allowed) Object.assign(job, { state: "cancelled", lease: undefined, holder: undefined })
    await check(model)
  }
  toString = () => `cancel(#${this.pick})`
}

/** A worker stops heartbeating (killed, paused or partitioned); it keeps its view, as a zombie would. */
class Crash implements fc.AsyncCommand<Model, Real> {
  readonly worker: number
  constructor(worker: number) {
    this.worker = worker
  }
  check = (model: Model) => model.alive[this.worker] === true
  async run(model: Model) {
    await run(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`UPDATE processes SET heartbeat_at = now() - interval '1 hour' WHERE id = ${model.processIds[this.worker] as string}::uuid`
      )
    )
    model.alive[this.worker] = false
    await check(model)
  }
  toString = () => `crash(w${this.worker})`
}

class Rescue implements fc.AsyncCommand<Model, Real> {
  check = () => true
  async run(model: Model) {
    const report = await store((s) => s.rescue("10 seconds"))
    let rescued = 0
    let discarded = 0
    for (const job of model.jobs.values()) {
      if (job.state !== "running" || job.holder === undefined || model.alive[job.holder]) continue
      const out = job.attempt >= job.maxAttempts
      Object.assign(job, { state: out ? "discarded" : "available", lease: undefined, holder: undefined })
      if (out) discarded++
      else rescued++
    }
    expect({ rescued: report.rescued, discarded: report.discarded }).toEqual({ rescued, discarded })
    // crashed workers come back as new processes (a restart); their old views stay as zombies
    for (let w = 0; w < PROCESSES; w++) {
      if (model.alive[w]) continue
      const id = randomUUID()
      await run(Effect.flatMap(ProcessRegistry, (r) => r.register({ id, role: "model", hostname: "h", pid: w, queues: {} })))
      model.processIds[w] = id
      model.alive[w] = true
    }
    await check(model)
  }
  toString = () => "rescue"
}

class Promote implements fc.AsyncCommand<Model, Real> {
  check = () => true
  async run(model: Model) {
    const result = await store((s) => s.promoteDue(10_000))
    let due = 0
    for (const job of model.jobs.values()) {
      if (job.state === "scheduled" || job.state === "retryable") {
        job.state = "available"
        due++
      }
    }
    expect(result.promoted).toBe(due)
    await check(model)
  }
  toString = () => "promote"
}

const worker = fc.integer({ min: 0, max: PROCESSES - 1 })
const enqueue = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).map(([n, max]) => new Enqueue(n, max))
const claim = fc.tuple(worker, fc.integer({ min: 1, max: 4 })).map(([w, n]) => new Claim(w, n))
const finish = fc
  .tuple(worker, fc.constantFrom("complete" as const, "fail" as const, "snooze" as const), fc.integer({ min: 1, max: 3 }))
  .map(([w, kind, n]) => new Finish(w, kind, n))
// Weighted by repetition: work (claims, outcomes) is common, crashes are not.
const commands = [
  enqueue,
  enqueue,
  claim,
  claim,
  claim,
  finish,
  finish,
  finish,
  finish,
  fc.nat().map((n) => new Cancel(n)),
  worker.map((w) => new Crash(w)),
  fc.constant(new Rescue()),
  fc.constant(new Promote())
]

describe("job store (model-based, real Postgres)", () => {
  beforeAll(async () => {
    runtime = storeRuntime(await cloneDatabase())
  })
  afterAll(() => runtime.dispose())

  it(`keeps its invariants over ${RUNS} random histories`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: "max" }), async (cmds) => {
        await run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`TRUNCATE jobs, processes`))
        const processIds = Array.from({ length: PROCESSES }, () => randomUUID())
        await run(
          Effect.flatMap(ProcessRegistry, (r) =>
            Effect.forEach(processIds, (id, i) => r.register({ id, role: "model", hostname: "h", pid: i, queues: {} }))
          )
        )
        const model: Model = {
          jobs: new Map(),
          views: Array.from({ length: PROCESSES }, () => new Map()),
          processIds,
          alive: Array.from({ length: PROCESSES }, () => true)
        }
        await fc.asyncModelRun(
          () => ({ model, real: runtime }),
          [...cmds].map((cmd) => ({
            check: (m: Readonly<Model>) => cmd.check(m as Model),
            run: async (m: Model, r: Real) => {
              const terminals = terminalSnapshot(m)
              await cmd.run(m, r)
              assertTerminalsFinal(terminals, m)
            },
            toString: () => cmd.toString()
          }))
        )
      }),
      { numRuns: RUNS }
    )
  }, 600_000)
})
