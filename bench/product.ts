/**
 * The callback platform in the bench process, as the product benchmarks drive
 * it: the same layers as `npm start` on a fresh database, with the in-process
 * Twilio simulator, and the steps a visitor and an administrator take over
 * HTTP (businesses, creates, the codes read back from the simulator, verifies).
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { createSwitchboardClient } from "../clients/switchboard/index.ts"
import { TwilioGateway } from "../infra/twilio/TwilioGateway.ts"
import { appFor } from "../src/App.ts"
import { HttpServer } from "../src/http/Server.ts"
import { crons, handlers } from "../src/jobs/index.ts"

const TOKEN = "bench-admin-token-0123456789"

/** Runs `work` over `items`, `parallel` at a time. */
export const pool = async <A, B>(items: ReadonlyArray<A>, parallel: number, work: (item: A, i: number) => Promise<B>): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await work(items[i] as A, i)
      }
    })
  )
  return results
}

/**
 * Starts the platform (role `all`) on `databaseUrl` with `settings` over quiet defaults (no rate limits in
 * the way); the API clients, the simulator's URL, and how to stop it all.
 */
export const startProduct = async (databaseUrl: string, settings: Record<string, string>) => {
  const config = new Map(
    Object.entries({
      DATABASE_URL: databaseUrl,
      PORT: "0",
      HOST: "127.0.0.1",
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: "error",
      SIMULATOR_PORT: "0",
      DIAL_LIMIT_PER_DESTINATION: "1000000/1m",
      RATE_LIMIT_CREATE_PER_IP: "1000000/1m",
      RATE_LIMIT_VERIFY_PER_IP: "1000000/1m",
      SMS_SENDER_RATE: "1000",
      ...settings
    })
  )
  const runtime = ManagedRuntime.make(appFor("all", { handlers, crons }, Layer.empty).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(config)))))
  const { port } = await runtime.runPromise(HttpServer)
  const simulator = (await runtime.runPromise(TwilioGateway)).simulatorUrl ?? ""
  const base = `http://127.0.0.1:${port}`
  return {
    simulator,
    /** The app's own runtime, to run its services (enqueue jobs, say) in the bench process. */
    runtime,
    api: createSwitchboardClient({ baseUrl: base }),
    admin: createSwitchboardClient({ baseUrl: base, adminToken: TOKEN }),
    dispose: () => runtime.dispose()
  }
}

export type Product = Awaited<ReturnType<typeof startProduct>>

/** `count` businesses of `slots` calls at once, each answering after `ringMs` and talking for `talkMs`; their ids. */
export const addBusinesses = (product: Product, count: number, slots: number, ringMs: number, talkMs: number) =>
  pool(Array.from({ length: count }, (_, i) => i), 5, async (i) => {
    const phone = `+1415555${String(1000 + i)}`
    await fetch(`${product.simulator}/sim/numbers/${encodeURIComponent(phone)}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outcome: "answered", afterMs: ringMs, talkMs })
    })
    const { data, error, response } = await product.admin.POST("/admin/api/businesses", { body: { name: `Bench ${i}`, phone, timezone: "UTC", maxConcurrentCalls: slots } })
    if (data === undefined) throw new Error(`business answered ${response.status}: ${JSON.stringify(error)}`)
    return data.id
  })

/**
 * Creates `count` requests spread over `businesses`, `parallel` at a time, and reads back every code the
 * simulator texted; each request's id and code, each create's latency (ms, the whole exchange), and the creates
 * per second over the create phase.
 */
export const createRequests = async (product: Product, businesses: ReadonlyArray<string>, count: number, parallel: number) => {
  const createMs: Array<number> = []
  const phaseStarted = performance.now()
  const created = await pool(Array.from({ length: count }, (_, i) => i), parallel, async (i) => {
    const phone = `+1650555${String(1000 + i).padStart(4, "0")}`
    const started = performance.now()
    const { data, error, response } = await product.admin.POST("/v1/callbacks", { body: { businessId: businesses[i % businesses.length] ?? "", phone } })
    createMs.push(performance.now() - started)
    if (data === undefined) throw new Error(`create answered ${response.status}: ${JSON.stringify(error)}`)
    return { id: data.id, phone }
  })
  const createsPerSecond = count / ((performance.now() - phaseStarted) / 1000)
  const texts = async () => (await (await fetch(`${product.simulator}/sim/messages`)).json()) as ReadonlyArray<{ to: string; body: string }>
  let codes = new Map<string, string>()
  for (let tries = 0; codes.size < count; tries++) {
    if (tries > 1_200) throw new Error(`only ${codes.size} of ${count} codes were texted`)
    codes = new Map((await texts()).map((t) => [t.to, /\d{6}/.exec(t.body)?.[0] ?? ""]))
    if (codes.size < count) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { requests: created.map(({ id, phone }) => ({ id, code: codes.get(phone) ?? "" })), createMs, createsPerSecond }
}

/** Verifies every request, `parallel` at a time. */
export const verifyAll = (product: Product, requests: ReadonlyArray<{ readonly id: string; readonly code: string }>, parallel: number) =>
  pool(requests, parallel, async ({ id, code }) => {
    const { data, error, response } = await product.api.POST("/v1/callbacks/{id}/verification", { params: { path: { id } }, body: { code } })
    if (data === undefined) throw new Error(`verify answered ${response.status}: ${JSON.stringify(error)}`)
  })
