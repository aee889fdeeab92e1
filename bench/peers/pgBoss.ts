/**
 * pg-boss 12 in the job benchmark, configured the way its docs describe for
 * fast, low-latency processing (https://pgboss.io/api/workers,
 * https://pgboss.io/api/constructor, https://pgboss.io/api/queues, and the
 * option docs in node_modules/pg-boss/dist/types.d.ts):
 *
 * - `work()` with `localConcurrency: concurrency`: pg-boss's documented
 *   concurrency knob, that many workers each fetching and running on their own.
 *   Each handler runs its batch's jobs one after another, so at most
 *   `concurrency` jobs execute at once.
 * - `batchSize: 100` with `burstWhenBatchFull: true`: each fetch claims up to
 *   100 jobs, and while fetches come back full the worker fetches again with no
 *   polling delay.
 * - NOTIFY: `notify: true` on the queue (inserts NOTIFY) plus
 *   `useListenNotify: true` on the worker instance (its LISTEN wakes the
 *   workers at once); polling remains the backstop
 *   (`pollingIntervalSeconds` / `notifyPollingIntervalSeconds` left at defaults).
 *   pg-boss wakes every one of the `localConcurrency` workers on each NOTIFY.
 * - No background work competing with the benchmark: `supervise: false`
 *   (maintenance and monitoring: expiry, retention, queue stats), `schedule:
 *   false` (cron), `registerInstance: false` (registry heartbeats) and
 *   `openTelemetry: { enabled: false }` (no SDK is registered anyway). None of
 *   these is on the fetch/complete path.
 *
 * As with graphile-worker, the producer and the worker are separate instances
 * with their own pools (max(10, concurrency + 2) connections for the worker).
 * Setup starts the producer (which installs the schema) and creates the queue;
 * bulk enqueue is `insert(name, jobs[])` per chunk of 5,000; single enqueue is
 * `send()`.
 */
import { PgBoss, type ConstructorOptions } from "pg-boss"
import { type BenchSystem, inChunks } from "../system.ts"

const QUEUE = "bench_noop"
const BATCH_SIZE = 100

const quiet: ConstructorOptions = {
  supervise: false,
  schedule: false,
  registerInstance: false,
  openTelemetry: { enabled: false }
}

const start = async (options: ConstructorOptions): Promise<PgBoss> => {
  const boss = new PgBoss(options)
  boss.on("error", (error) => console.error("[pg-boss] error:", error))
  boss.on("warning", (warning) => console.warn(`[pg-boss] warning: ${warning.message}`))
  await boss.start()
  return boss
}

export const pgBoss = (): BenchSystem => {
  let connectionString: string | undefined
  let producer: PgBoss | undefined
  let worker: PgBoss | undefined

  const ready = () => {
    if (connectionString === undefined || producer === undefined) throw new Error("setup() first")
    return { connectionString, producer }
  }

  return {
    name: "pg-boss",
    async setup(url) {
      connectionString = url
      producer = await start({ ...quiet, connectionString: url })
      await producer.createQueue(QUEUE, { notify: true })
    },
    async enqueueBulk(n) {
      await inChunks(n, (size) => ready().producer.insert(QUEUE, Array.from({ length: size }, () => ({ data: {} }))))
    },
    async enqueueOne(sentAt) {
      await ready().producer.send(QUEUE, { sentAt })
    },
    async startWorker(concurrency, onJob) {
      worker = await start({
        ...quiet,
        connectionString: ready().connectionString,
        migrate: false,
        useListenNotify: true,
        max: Math.max(10, concurrency + 2)
      })
      await worker.work<{ sentAt?: number }>(
        QUEUE,
        { localConcurrency: concurrency, batchSize: BATCH_SIZE, burstWhenBatchFull: true },
        async (jobs) => {
          for (const job of jobs) onJob(job.data.sentAt)
        }
      )
    },
    async stopWorker() {
      await worker?.stop({ graceful: true })
      worker = undefined
    },
    async teardown() {
      await worker?.stop({ graceful: true })
      worker = undefined
      await producer?.stop({ graceful: true })
      producer = undefined
    }
  }
}
