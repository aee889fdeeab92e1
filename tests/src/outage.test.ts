/**
 * PostgreSQL stops for 10 s under a running app process, and starts again.
 * Kubernetes must not restart the pod (/livez 200 throughout) but must stop
 * routing to it (/readyz 503); the outage is logged once, not once per probe;
 * once the database is back, readiness returns and every queued job runs once.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startEmbedded, type EmbeddedServer } from "../../infra/db/EmbeddedPostgres.ts"
import { enqueueMany } from "../../infra/jobs/Jobs.ts"
import { eventually, query, storeRuntime } from "../support/database.ts"
import { count, countReaches } from "../support/ledger.ts"
import { spawnWorker } from "../support/processes.ts"
import { LEDGER_SQL, Ledger } from "../support/testJobs.ts"

const OUTAGE_MS = 10_000

describe("PostgreSQL stopped for 10 s under a running app", () => {
  let root: string
  let server: EmbeddedServer
  let port: number
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-outage-"))
    await fs.chmod(root, 0o755) // the postgres user must reach it
    server = await startEmbedded({ root, database: "outage", log: () => {} })
    port = Number(new URL(server.url).port)
    await query(server.url, LEDGER_SQL)
  })
  afterAll(async () => {
    await server.release()
    await fs.rm(root, { recursive: true, force: true })
  })

  const enqueue = async (n: number, delayMs = 0) => {
    const runtime = storeRuntime(server.url) // a fresh pool: the database may have restarted since the last one
    try {
      await runtime.runPromise(enqueueMany(Ledger, Array.from({ length: n }, () => ({ args: {}, options: { delay: delayMs } }))))
    } finally {
      await runtime.dispose()
    }
  }

  it("keeps /livez 200, turns /readyz 503, recovers, and loses no job", async () => {
    const app = spawnWorker(server.url, { ROLE: "all", QUEUES: "default:5", ACTOR_STALL_TIMEOUT: "5s" })
    const base = await app.baseUrl()
    await eventually(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 20_000, "/readyz 200")
    await enqueue(5)
    await countReaches(server.url, "SELECT count(*) AS n FROM ledger_completions", 5, 20_000)
    await enqueue(5, 3_000) // due in the middle of the outage

    const probes: Array<{ at: number; livez: number; readyz: number; why?: string | undefined }> = []
    let probing = true
    const prober = (async () => {
      while (probing) {
        const at = Date.now()
        const [livez, readyz] = await Promise.all(
          ["/livez", "/readyz"].map((p) =>
            fetch(base + p).then(async (r) => ({ status: r.status, body: await r.text() }), () => ({ status: 0, body: "" }))
          )
        )
        probes.push({ at, livez: livez?.status ?? 0, readyz: readyz?.status ?? 0, ...(livez?.status === 200 ? {} : { why: livez?.body }) })
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })()

    const stoppedAt = Date.now()
    await server.release() // fast shutdown: clients are disconnected, new connections refused
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
    const restartingAt = Date.now()
    server = await startEmbedded({ root, database: "outage", log: () => {}, port })
    const restartedAt = Date.now()
    await eventually(async () => (probes.some((p) => p.at > restartedAt && p.readyz === 200) ? true : undefined), 30_000, "/readyz to recover")
    probing = false
    await prober

    const during = probes.filter((p) => p.at > stoppedAt + 3_000 && p.at < restartingAt)
    expect(during.length).toBeGreaterThan(10)
    expect(during.filter((p) => p.readyz !== 503)).toEqual([])
    expect(probes.filter((p) => p.livez !== 200)).toEqual([])
    // dozens of failed readiness probes, one warning; one line when it is back
    const logged = (text: string) => app.output().split("\n").filter((line) => line.includes(text))
    expect(logged('"message":"database unavailable: ')).toHaveLength(1)
    await eventually(async () => (logged('"message":"database available again').length === 1 ? true : undefined), 5_000, '"database available again"')

    await enqueue(5)
    await countReaches(server.url, "SELECT count(*) AS n FROM ledger_completions", 15, 30_000)
    // outcomes are written in batches after the handler's own write: wait for them as well
    await countReaches(server.url, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'", 15, 10_000)
    expect(await count(server.url, "SELECT count(*) AS n FROM ledger_violations")).toBe(0)
    expect(await count(server.url, "SELECT count(*) AS n FROM ledger_starts")).toBe(15) // none ran twice
    app.signal("SIGTERM")
    expect(await app.exited).toBe(0)
  })
})
