/**
 * The product path under faults of PostgreSQL and Twilio, across real
 * processes (src/main.ts as `npm start` runs it: a web process for the
 * visitors, worker processes for the jobs) sharing one Twilio simulator:
 * - PostgreSQL is stopped (fast shutdown) and started again under an
 *   open-loop load of creates and verifications;
 * - Twilio answers 503 to every calls.create for seconds during a burst of dials;
 * - Twilio answers 429 with `Retry-After` to a dozen creates;
 * - Twilio creates the call but answers 500 (the answer is lost) for a
 *   dozen creates, which reconciliation must adopt rather than repeat.
 *
 * Each ends with the total check of tests/support/productChecks.ts: every
 * accepted request terminal with exactly one terminal event, the simulator's
 * calls exactly the attempts' sids, never more calls at once to a business
 * than its maxConcurrentCalls, no job left running, no slot lease held.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, startSimulator, type RunningSimulator } from "../../infra/twilio/Simulator.ts"
import { ADMIN_TOKEN } from "../support/app.ts"
import { cloneDatabase, type DedicatedServer, dedicatedServer, eventually, query } from "../support/database.ts"
import { spawnApp } from "../support/processes.ts"
import {
  type Answer,
  type BusinessLine,
  productApi,
  productEnvironment,
  startTwilioFront,
  totalCheck,
  type TotalCheck,
  type TwilioFront,
  unfinished,
  unsettled,
  untilServed,
  visitorNumber
} from "../support/productChecks.ts"

const BUSINESSES = 5
const MAX_CONCURRENT = 4
/** Long enough for the slowest of a loaded machine: these are waits for conditions, not measures. */
const SETTLE_MS = 180_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A web process and `workers` worker processes over `databaseUrl`, talking to Twilio at `twilioUrl`; five businesses answering after 100 ms. */
const startProduct = async (databaseUrl: string, simulatorUrl: string, twilioUrl: string, workers: number, talkMs: number) => {
  const environment = productEnvironment(twilioUrl, ADMIN_TOKEN)
  const web = spawnApp(databaseUrl, { ...environment, ROLE: "web" })
  const workerProcesses = Array.from({ length: workers }, () => spawnApp(databaseUrl, environment))
  const webUrl = await web.ready()
  const workerUrls = await Promise.all(workerProcesses.map((worker) => worker.ready()))
  const api = productApi(webUrl, simulatorUrl, ADMIN_TOKEN)
  const businesses: Array<BusinessLine> = []
  for (let b = 0; b < BUSINESSES; b++) businesses.push(await api.business(`Product ${b}`, MAX_CONCURRENT, { outcome: "answered", afterMs: 100, talkMs }))

  /** `n` requests created round robin over the businesses, each with its texted code (not yet verified). */
  const requested = (n: number) =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const phone = visitorNumber()
        const created = await api.create(businesses[i % BUSINESSES]!.id, phone)
        expect(created.status).toBe(202)
        const code = await api.codeFor(phone, 60_000)
        expect(code).toBeDefined()
        return { id: String(created.body.id), phone, code: code ?? "" }
      })
    )
  /** Verifies them all at once, so their dials start together (with a newer code where one replaced the first); their ids. */
  const verifyAll = (pending: ReadonlyArray<{ id: string; phone: string; code: string }>) =>
    Promise.all(
      pending.map(async ({ id, phone, code }) => {
        const verified = await api.verifyLatest(id, phone, code, 60_000)
        expect(verified.answers.at(-1)?.status).toBe(200)
        if (verified.replaced > 0) console.log(`request ${id}: its first code was replaced by a newer text (its verification job ran again)`)
        return id
      })
    )
  /** Waits for every one of `ids` to be terminal and for the system to settle, then runs the total check. */
  const checked = async (ids: ReadonlyArray<string>) => {
    const phones = businesses.map((b) => b.phone)
    await eventually(async () => ((await unfinished(databaseUrl, ids)) === 0 ? true : undefined), SETTLE_MS, `all ${ids.length} requests to end`).catch(
      async (error: Error) => {
        throw new Error(`${error.message}; still ${await unsettled(databaseUrl, ids, phones)}: ${JSON.stringify(await standing(databaseUrl, ids))}`)
      }
    )
    await eventually(async () => ((await unsettled(databaseUrl, ids, phones)) === undefined ? true : undefined), SETTLE_MS, "the system to settle")
    const check = await totalCheck({ databaseUrl, simulatorUrl, businesses, accepted: ids })
    expect(check.failed).toEqual([])
    return check
  }
  return { web, webUrl, workers: workerProcesses, workerUrls, api, businesses, requested, verifyAll, checked }
}

/** Where the unfinished of `ids` stand, and their jobs, to say why a wait timed out. */
const standing = (url: string, ids: ReadonlyArray<string>) =>
  query(
    url,
    `SELECT r.status, j.kind, j.state, j.attempt, count(*) AS n, min(j.errors::text) AS an_error
       FROM callback_requests r LEFT JOIN jobs j ON j.args->>'callbackId' = r.id::text
      WHERE r.id = ANY($1) AND r.status NOT IN ('completed', 'failed', 'cancelled', 'expired')
      GROUP BY 1, 2, 3, 4`,
    [ids]
  )

/** Every one of `ids` completed after exactly one call attempt. */
const expectOneCallEach = (check: TotalCheck, ids: ReadonlyArray<string>) => {
  expect(check.outcomes).toEqual({ completed: ids.length })
  expect(ids.filter((id) => check.attempts.get(id) !== 1)).toEqual([])
  expect(check.calls).toBe(ids.length)
}

describe("the product path while Twilio misbehaves", () => {
  let simulator: RunningSimulator
  let front: TwilioFront
  beforeAll(async () => {
    simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
    front = await startTwilioFront(simulator.url)
  }, 60_000)
  afterAll(async () => {
    await front.close()
    await simulator.close()
  })

  it("a 503 storm on calls.create during a burst of 40 dials over 2 workers: every request completes once, one call per attempt, no request called twice", { timeout: 300_000 }, async () => {
    const url = await cloneDatabase()
    const product = await startProduct(url, simulator.url, simulator.url, 2, 1_000)
    await product.api.faults()
    const pending = await product.requested(40)
    const before = await product.api.stats()
    const refused = async () => {
      const now = await product.api.stats()
      return now.requests.calls - before.requests.calls - (now.calls - before.calls)
    }
    await product.api.faults({ calls: { status: 503 } })
    const ids = await product.verifyAll(pending)
    await eventually(async () => ((await refused()) >= 5 ? true : undefined), 60_000, "creates to meet the 503s")
    // the storm goes on for 5 s after the first refusals: every dial that comes due meets it, the voice circuits open
    await sleep(5_000)
    await product.api.faults()
    const stormEnded = Date.now()
    const during = await refused()
    const check = await product.checked(ids)
    console.log(`503 storm: ${during} creates refused, all ${ids.length} requests ended ${((Date.now() - stormEnded) / 1000).toFixed(1)} s after it; ${check.calls} calls`)
    expect(during).toBeGreaterThanOrEqual(5)
    expectOneCallEach(check, ids)
  })

  it("429 with Retry-After on a dozen creates: each refused dial waits at least Retry-After, then its call is placed once; every request completes once", { timeout: 300_000 }, async () => {
    // longer than the 5 s the dialer waits of its own after a refused create (docs/callbacks.md): the wait is Twilio's
    const RETRY_AFTER_SECONDS = 8
    const REFUSALS = 12
    const url = await cloneDatabase()
    const product = await startProduct(url, simulator.url, front.url, 1, 500)
    await product.api.faults()
    const pending = await product.requested(20)
    const seenBefore = front.state.creates.length
    await product.api.faults({ calls: { status: 429, count: REFUSALS, retryAfter: RETRY_AFTER_SECONDS } })
    const ids = await product.verifyAll(pending)
    const check = await product.checked(ids)
    const creates = front.state.creates.slice(seenBefore)
    expect(creates.filter((c) => c.status === 429)).toHaveLength(REFUSALS)

    // each create's request, through the attempt id its StatusCallback carries and the request's `callback.dialing` events
    const owners = new Map(
      (await query<{ attempt: string; callback_id: string }>(url, "SELECT data->>'attemptId' AS attempt, callback_id FROM callback_events WHERE type = 'callback.dialing' AND callback_id = ANY($1)", [ids])).map(
        (row) => [row.attempt, row.callback_id]
      )
    )
    const byRequest = new Map<string, Array<(typeof creates)[number]>>()
    for (const create of creates) {
      const owner = owners.get(create.attemptId ?? "")
      expect(owner).toBeDefined()
      byRequest.set(owner ?? "", [...(byRequest.get(owner ?? "") ?? []), create])
    }
    const waits: Array<number> = []
    for (const seen of byRequest.values()) {
      seen.forEach((create, i) => {
        const next = seen[i + 1]
        if (create.status === 429) waits.push(next === undefined ? Number.NaN : next.at - create.at)
      })
    }
    console.log(`429 x ${REFUSALS} with Retry-After ${RETRY_AFTER_SECONDS} s: the refused dials asked again after ${Math.min(...waits)}-${Math.max(...waits)} ms; ${check.calls} calls`)
    // every refused dial asked again (no NaN), and not before Retry-After
    expect(waits.filter((wait) => !(wait >= RETRY_AFTER_SECONDS * 1000))).toEqual([])
    expectOneCallEach(check, ids)
  })

  it("create-then-fail: calls created while their answers are lost are adopted by reconciliation, never placed twice; every request completes once", { timeout: 300_000 }, async () => {
    const url = await cloneDatabase()
    const product = await startProduct(url, simulator.url, simulator.url, 1, 500)
    await product.api.faults()
    const pending = await product.requested(20)
    const before = await product.api.stats()
    await product.api.faults({ createThenFail: true })
    const ids = await product.verifyAll(pending)
    // one ambiguous create per business number at a time (Dialer.ts): wait until ten have been made
    await eventually(async () => ((await product.api.stats()).calls - before.calls >= 10 ? true : undefined), 90_000, "ten calls created with their answers lost")
    await product.api.faults()
    const ambiguous = (await product.api.stats()).requests.calls - before.requests.calls
    const check = await product.checked(ids)
    const lost = product.workers[0]!.output().split("answer to the create was lost").length - 1
    console.log(`create-then-fail: ${ambiguous} creates answered 500 after placing their call (the worker logged ${lost}); ${check.calls} calls for ${ids.length} requests`)
    expect(lost).toBeGreaterThanOrEqual(10)
    expectOneCallEach(check, ids)
  })
})

interface Visit {
  readonly creates: ReadonlyArray<Answer>
  readonly verifies: ReadonlyArray<Answer>
  /** Newer codes the visitor had to read (its first code was replaced: the verification job ran again). */
  readonly replaced: number
  readonly id: string | undefined
  readonly phone: string
}

describe("PostgreSQL restarted under a running create load", () => {
  let simulator: RunningSimulator
  let server: DedicatedServer
  beforeAll(async () => {
    simulator = await startSimulator({ accountSid: SIMULATOR_ACCOUNT_SID, authToken: SIMULATOR_AUTH_TOKEN, port: 0 })
    server = await dedicatedServer("product")
  }, 120_000)
  afterAll(async () => {
    await simulator.close()
    await server.dispose()
  })

  it("a fast shutdown for 4 s under 8 visitors/s: refusals are 503 with Retry-After, no 500, probes tell the truth, every accepted request ends once", { timeout: 300_000 }, async () => {
    const product = await startProduct(server.url, simulator.url, simulator.url, 1, 300)
    const processes = [
      { name: "web", url: product.webUrl },
      { name: "worker", url: product.workerUrls[0]! }
    ]

    const probes: Array<{ at: number; name: string; livez: number; readyz: number }> = []
    let probing = true
    const prober = (async () => {
      while (probing) {
        const at = Date.now()
        await Promise.all(
          processes.map(async ({ name, url }) => {
            const [livez, readyz] = await Promise.all(["/livez", "/readyz"].map((p) => fetch(url + p).then((r) => r.status, () => 0)))
            probes.push({ at, name, livez: livez ?? 0, readyz: readyz ?? 0 })
          })
        )
        await sleep(200)
      }
    })()

    // an open-loop load: a visitor every 125 ms whatever the answers; each creates (with an Idempotency-Key, so a
    // refused create can be sent again), reads its code and verifies, sending again what was refused with 503
    const visits: Array<Promise<Visit>> = []
    let acceptedSoFar = 0
    const visit = async (i: number): Promise<Visit> => {
      const phone = visitorNumber()
      const key = randomUUID()
      const creates = await untilServed(() => product.api.create(product.businesses[i % BUSINESSES]!.id, phone, key), 120_000)
      const created = creates.at(-1)
      if (created?.status !== 202) return { creates, verifies: [], replaced: 0, id: undefined, phone }
      const id = String(created.body.id)
      acceptedSoFar++
      const code = await product.api.codeFor(phone, 120_000)
      const verified = code === undefined ? { answers: [], replaced: 0 } : await product.api.verifyLatest(id, phone, code, 120_000)
      return { creates, verifies: verified.answers, replaced: verified.replaced, id, phone }
    }
    let loading = true
    const loader = (async () => {
      const start = Date.now()
      for (let i = 0; loading; i++) {
        visits.push(visit(i))
        await sleep(Math.max(0, start + (i + 1) * 125 - Date.now()))
      }
    })()

    // whatever happens below, the load and the probes stop with the test
    try {
      await eventually(async () => (acceptedSoFar >= 10 ? true : undefined), 60_000, "ten requests accepted before the outage")
      const stoppedAt = Date.now()
      await server.stop()
      await eventually(async () => (probes.some((p) => p.name === "web" && p.at > stoppedAt && p.readyz === 503) ? true : undefined), 30_000, "the web process to turn unready")
      // the outage lasts 4 s at least: the load keeps coming meanwhile
      await sleep(Math.max(0, stoppedAt + 4_000 - Date.now()))
      const restartedAt = Date.now()
      await server.start()
      const restarted = Date.now()
      await eventually(
        async () => (processes.every(({ name }) => probes.some((p) => p.name === name && p.at > restarted && p.readyz === 200)) ? true : undefined),
        60_000,
        "every process to be ready again"
      )
      const afterRestart = visits.length
      await eventually(async () => (visits.length >= afterRestart + 24 ? true : undefined), 60_000, "three more seconds of load")
      loading = false
      await loader
      const done = await Promise.all(visits)
      const ids = done.flatMap((v) => (v.id === undefined ? [] : [v.id]))
      const answers = done.flatMap((v) => [...v.creates.map((a) => ({ kind: "create", ...a })), ...v.verifies.map((a) => ({ kind: "verify", ...a }))])
      const refusals = answers.filter((a) => a.status === 503)
      const networkErrors = answers.filter((a) => a.status === 0)
      const replaced = done.reduce((n, v) => n + v.replaced, 0)
      const lastUnready = Math.max(...probes.filter((p) => p.readyz !== 200 && p.at > stoppedAt).map((p) => p.at))
      console.log(
        `PostgreSQL fast shutdown for ${((restartedAt - stoppedAt) / 1000).toFixed(1)} s under ${done.length} visitors: ${refusals.length} answers 503 ` +
          `(${refusals.filter((a) => a.kind === "create").length} creates, ${refusals.filter((a) => a.kind === "verify").length} verifications), ` +
          `${networkErrors.length} connection errors, /readyz back ${((lastUnready - restartedAt) / 1000).toFixed(1)} s after the restart began; ` +
          `${ids.length} requests accepted (${replaced} codes replaced by a newer text)`
      )

      // no visitor's code was replaced by a newer text: a send job run again (rescued, retried) texts the same code
      expect(replaced).toBe(0)
      // every refusal was a 503 with a Retry-After, nothing else went wrong, and
      // every visitor got through in the end
      const replacedCodes = answers.filter((a) => a.status === 400 && a.body.type === "/problems/wrong-code")
      expect(replacedCodes).toHaveLength(replaced)
      expect(answers.filter((a) => ![200, 202, 409, 503].includes(a.status) && !replacedCodes.includes(a)).map((a) => `${a.kind} ${a.status} ${a.error ?? JSON.stringify(a.body)}`)).toEqual([])
      expect(refusals.filter((a) => !/^[1-9]\d*$/.test(a.retryAfter ?? "")).map((a) => a.retryAfter)).toEqual([])
      expect(refusals.length).toBeGreaterThan(0)
      expect(networkErrors).toEqual([])
      expect(done.filter((v) => v.id === undefined || ![200, 409].includes(v.verifies.at(-1)?.status ?? 0)).map((v) => v.phone)).toEqual([])
      // sending a refused create again made no second request, and no request exists that no visitor was told of
      const stored = await query<{ id: string }>(server.url, "SELECT id FROM callback_requests WHERE business_id = ANY($1)", [product.businesses.map((b) => b.id)])
      expect(stored.map((r) => r.id).sort()).toEqual([...ids].sort())

      expectOneCallEach(await product.checked(ids), ids)
      // /livez never failed; /readyz failed during the outage and recovered after it, in every process
      expect(probes.filter((p) => p.livez !== 200)).toEqual([])
      for (const { name } of processes) {
        expect(probes.some((p) => p.name === name && p.at > stoppedAt && p.at < restartedAt && p.readyz === 503)).toBe(true)
        expect(probes.some((p) => p.name === name && p.at > restarted && p.readyz === 200)).toBe(true)
      }
    } finally {
      loading = false
      probing = false
      await Promise.all([loader, prober])
    }
  })
})
