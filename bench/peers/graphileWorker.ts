/**
 * graphile-worker 0.18 in the job benchmark, configured the way its
 * performance page does for speed (https://worker.graphile.org/docs/performance,
 * and the option docs in node_modules/graphile-worker/dist/index.d.ts):
 *
 * - `preset.worker.localQueue: { size: 500 }`: the pool fetches and locks 500
 *   jobs at a time and hands them to its workers locally (the docs' example).
 * - `preset.worker.completeJobBatchDelay: 0` and `failJobBatchDelay: 0`: job
 *   completions/failures are batched into one statement per tick.
 * - `preset.worker.concurrentJobs`: the benchmark's concurrency, with
 *   `maxPoolSize` = max(10, concurrency + 2), the size the option docs recommend.
 * - LISTEN/NOTIFY is always on in graphile-worker (no switch); `noHandleSignals`
 *   because the benchmark owns the process; a task list, no crontab.
 *
 * Setup runs `makeWorkerUtils(...).migrate()`; bulk enqueue is `addJobs` (one
 * `add_jobs` call per chunk of 5,000); single enqueue is `addJob`. The worker
 * (`run`) has its own pool, as in a normal deployment.
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from "graphile-worker"
import { type BenchSystem, inChunks } from "../system.ts"

const TASK = "bench_noop"

/** Only warnings and errors: the info lines (worker started/stopped) would clutter the benchmark output. */
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.warn(`[graphile-worker] ${level}: ${message}`)
})

export const graphileWorker = (): BenchSystem => {
  let connectionString: string | undefined
  let utils: WorkerUtils | undefined
  let runner: Runner | undefined

  const ready = () => {
    if (connectionString === undefined || utils === undefined) throw new Error("setup() first")
    return { connectionString, utils }
  }

  return {
    name: "graphile-worker",
    async setup(url) {
      connectionString = url
      utils = await makeWorkerUtils({ connectionString: url, logger })
      await utils.migrate()
    },
    async enqueueBulk(n) {
      await inChunks(n, (size) => ready().utils.addJobs(Array.from({ length: size }, () => ({ identifier: TASK, payload: {} }))))
    },
    async enqueueOne(sentAt) {
      await ready().utils.addJob(TASK, { sentAt })
    },
    async startWorker(concurrency, onJob) {
      runner = await run({
        noHandleSignals: true,
        logger,
        taskList: { [TASK]: (payload) => onJob((payload as { sentAt?: number }).sentAt) },
        parsedCronItems: [],
        preset: {
          worker: {
            connectionString: ready().connectionString,
            concurrentJobs: concurrency,
            maxPoolSize: Math.max(10, concurrency + 2),
            localQueue: { size: 500 },
            completeJobBatchDelay: 0,
            failJobBatchDelay: 0
          }
        }
      })
      runner.promise.catch((error: unknown) => console.error("[graphile-worker] runner failed:", error))
    },
    async stopWorker() {
      await runner?.stop()
      runner = undefined
    },
    async teardown() {
      await runner?.stop()
      runner = undefined
      await utils?.release()
      utils = undefined
    }
  }
}
