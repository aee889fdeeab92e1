/** What the job benchmark drives: one job system, set up on its own database. */
export interface BenchSystem {
  readonly name: string
  /** Prepare a fresh, empty database at this URL (run the library's own migrations/schema install). */
  setup(connectionString: string): Promise<void>
  /** Enqueue n no-op jobs of the bench task as fast as the library's documented bulk API allows. */
  enqueueBulk(n: number): Promise<void>
  /** Enqueue one job whose payload carries `sentAt` (a number, ms). Use the library's normal single-job add API. */
  enqueueOne(sentAt: number): Promise<void>
  /** Start processing the bench task with exactly `concurrency` jobs running at once; call onJob(payload.sentAt) for each job executed. */
  startWorker(concurrency: number, onJob: (sentAt: number | undefined) => void): Promise<void>
  /** Stop the worker. */
  stopWorker(): Promise<void>
  /** Release every pool/connection so the process can exit. */
  teardown(): Promise<void>
}

/** Calls `add` with chunk sizes summing to `n` (bulk APIs take at most a few thousand rows per call). */
export const inChunks = async (n: number, add: (size: number) => Promise<unknown>, chunk = 5_000): Promise<void> => {
  for (let done = 0; done < n; done += chunk) await add(Math.min(chunk, n - done))
}

/** A high-resolution wall-clock timestamp in ms, comparable across the enqueuer and the handler. */
export const now = (): number => performance.timeOrigin + performance.now()
