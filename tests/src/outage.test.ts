/**
 * Postgres goes away for 10 s under a running app process (connections cut,
 * new ones refused, as when the server stops). Kubernetes must not restart
 * the pod (/livez 200 throughout) but must stop routing to it (/readyz 503);
 * once the database is back, readiness returns and every queued job runs once.
 */
import { describe, expect, it } from "vitest"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { eventually } from "../support/database.ts"
import { count, countReaches, ledgerDatabase } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { startProxy } from "../support/proxy.ts"
import { Ledger } from "../support/testJobs.ts"

const OUTAGE_MS = 10_000

describe("a 10 s database outage under a running app", () => {
  const db = ledgerDatabase()

  it("keeps /livez 200, turns /readyz 503, recovers, and loses no job", async () => {
    const proxy = await startProxy(db.url)
    try {
      const app = spawnWorker(proxy.url, { ROLE: "all", QUEUES: "default:5", ACTOR_STALL_TIMEOUT: "5s" })
      const base = await app.baseUrl()
      expect((await fetch(`${base}/readyz`)).status).toBe(200)
      const enqueue = (n: number, delayMs = 0) =>
        db.runtime.runPromise(enqueueMany(Ledger, Array.from({ length: n }, () => ({ args: {}, options: { delay: delayMs } }))))
      await enqueue(5)
      await countReaches(db.url, "SELECT count(*) AS n FROM ledger_completions", 5, 20_000)
      await enqueue(5, 3_000) // due in the middle of the outage

      const probes: Array<{ at: number; livez: number; readyz: number; why?: string | undefined }> = []
      let probing = true
      const prober = (async () => {
        while (probing) {
          const [livez, readyz] = await Promise.all(["/livez", "/readyz"].map((p) => fetch(base + p).then(async (r) => ({ status: r.status, body: await r.text() }), () => ({ status: 0, body: "" }))))
          probes.push({ at: Date.now(), livez: livez?.status ?? 0, readyz: readyz?.status ?? 0, ...(livez?.status === 200 ? {} : { why: livez?.body }) })
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      })()

      const cutAt = Date.now()
      proxy.cut()
      await enqueue(5) // written straight to the database; the app cannot see it yet
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
      proxy.restore()
      const restoredAt = Date.now()
      await eventually(async () => (probes.some((p) => p.at > restoredAt && p.readyz === 200) ? true : undefined), 20_000, "/readyz to recover")
      probing = false
      await prober

      const during = probes.filter((p) => p.at > cutAt + 3_000 && p.at < restoredAt)
      expect(during.length).toBeGreaterThan(10)
      expect(during.filter((p) => p.readyz !== 503)).toEqual([])
      expect(probes.filter((p) => p.livez !== 200)).toEqual([])

      await enqueue(5)
      await countReaches(db.url, "SELECT count(*) AS n FROM ledger_completions", 20, 30_000)
      expect(await count(db.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'")).toBe(20)
      expect(await count(db.url, "SELECT count(*) AS n FROM ledger_violations")).toBe(0)
      expect(await count(db.url, "SELECT count(*) AS n FROM ledger_starts")).toBe(20) // none ran twice
      app.signal("SIGTERM")
      expect(await app.exited).toBe(0)
    } finally {
      await proxy.close()
    }
  })
})
