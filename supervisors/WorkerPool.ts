/**
 * One queue's worker pool.
 *
 * State: up to `concurrency` jobs running and up to `prefetch` more claimed and
 * waiting in a local buffer (`held` counts both). A claimer fiber claims
 * `capacity - held` jobs in one statement whenever it is woken: by a NOTIFY
 * for this queue, by the poll timer (the safety net), or by finishing jobs
 * while the last claim came back full (a backlog), once at least half the
 * capacity is free, so a backlog drains in large batches. `concurrency` runner
 * fibers take jobs from the buffer, run their handlers inline and hand outcomes
 * to the process's Completer. Timeouts cost no timer per job: a watchdog
 * interrupts a runner whose job is past its deadline and seats a new runner
 * (measured here, `Effect.timeout` per job halved throughput).
 *
 * Shutdown (scope close): stop claiming; hand back buffered jobs unstarted;
 * let running ones finish for up to `SHUTDOWN_GRACE`; interrupt the rest and
 * hand them back. A handed-back job is `available` again with its attempt
 * refunded. Claimed jobs are sorted by priority; a higher-priority job claimed
 * later still waits behind the buffer, which is why prefetch is small by default.
 *
 * An operator's pause (QueuePauses.ts): the claim statement claims nothing of
 * a paused queue; when the pool hears of the pause it hands back its buffered
 * jobs unstarted, and running ones finish. A resume wakes the claimer.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { AttemptError, JobFailure } from "../domain/jobs/JobErrors.ts"
import type { QueueConfig } from "../domain/jobs/QueueConfig.ts"
import type { ClaimedJob, Outcome } from "../infra/jobs/JobRecords.ts"
import { JobStore } from "../infra/jobs/JobStore.ts"
import { Notifier } from "../infra/jobs/Notifier.ts"
import { Metrics } from "../infra/observability/Metrics.ts"
import { parentFrom } from "../infra/observability/TraceContext.ts"
import { TraceExport } from "../infra/observability/Tracing.ts"
import { awaitLatch, outageTolerant, sleep, spawnActor } from "./Actor.ts"
import { AttemptTimeout, outcomeOf } from "./Attempt.ts"
import { Completer } from "./Completer.ts"
import { EngineConfig } from "./EngineConfig.ts"
import { makeJobBuffer } from "./JobBuffer.ts"
import type { JobHandler } from "./JobRegistry.ts"
import { ProcessIdentity } from "./ProcessIdentity.ts"
import { QueuePauses } from "./QueuePauses.ts"

export interface PoolHandle {
  readonly queue: string
  /** Stops claiming, hands back what has not started, waits up to `grace` for the rest, then interrupts them. */
  readonly drain: (grace: Duration.Duration) => Effect.Effect<void>
}

const handBackError = (job: ClaimedJob, now: number, message: string): AttemptError => ({
  attempt: job.attempt,
  at: new Date(now).toISOString(),
  kind: "interrupted",
  message
})

export const makePool = <R>(config: QueueConfig, handlers: ReadonlyMap<string, JobHandler<R>>, context: Context.Context<R>) =>
  Effect.gen(function* () {
    const store = yield* JobStore
    const notifier = yield* Notifier
    const completer = yield* Completer
    const self = yield* ProcessIdentity
    const metrics = yield* Metrics
    const pauses = yield* QueuePauses
    const { exporting } = yield* TraceExport
    const { pollInterval, slotRecheck } = yield* EngineConfig
    const { queue, concurrency } = config
    const capacity = concurrency + config.prefetch
    const kinds = [...handlers.keys()]
    const batchThreshold = Math.max(1, Math.floor(capacity / 2))

    let held = 0
    let running = 0
    let backlog = false
    const buffer = makeJobBuffer<ClaimedJob>()
    const wake = yield* Effect.makeLatch(false)
    self.loads.set(queue, () => ({ concurrency, running }))
    yield* notifier.subscribe(queue, () => wake.unsafeOpen())

    const released = (n: number) => {
      held -= n
      if (backlog && capacity - held >= batchThreshold) wake.unsafeOpen()
    }

    /** Returns claimed jobs that have not started to the queue, attempt refunded. */
    const handBack = (jobs: ReadonlyArray<ClaimedJob>) => {
      for (const job of jobs) completer.add({ id: job.id, lease: job.lease, queue, kind: job.kind, outcome: { _tag: "HandBack" } })
      released(jobs.length)
    }

    // paused: nothing buffered starts; resumed: claim at once
    yield* pauses.watch(queue, (paused) => {
      if (paused) {
        backlog = false
        handBack(buffer.takeAll())
      } else {
        wake.unsafeOpen()
      }
    })

    /**
     * One claim of as many jobs as there is room for; returns how many came.
     * Uninterruptible: a claim cut off in flight would still commit on the
     * server, and its jobs would be held by nobody until a rescue.
     */
    const claimOnce = Effect.gen(function* () {
      const room = capacity - held
      if (pauses.isPaused(queue)) {
        backlog = false
        return 0
      }
      if (room <= 0) return 0
      const jobs = yield* store.claim(queue, kinds, room, self.id, slotRecheck)
      metrics.claims.inc({ queue, result: jobs.length === room ? "full" : jobs.length === 0 ? "empty" : "partial" })
      held += jobs.length
      if (pauses.isPaused(queue)) {
        // the pause was heard of while this claim was in flight
        backlog = false
        handBack(jobs)
        return 0
      }
      backlog = jobs.length === room
      buffer.push(jobs)
      return jobs.length
    }).pipe(Effect.uninterruptible)

    // Claims that fail (database unreachable, or this process not registered again yet) back off up
    // to 5 s between tries; the trouble is logged once, like every actor's outage.
    const guard = outageTolerant(`claiming on queue ${queue}`)
    let failures = 0
    const claimer = Effect.forever(
      Effect.gen(function* () {
        yield* guard.step(claimOnce, 0)
        failures = guard.down() ? failures + 1 : 0
        if (failures > 0) yield* sleep(Duration.millis(Math.min(5_000, Duration.toMillis(pollInterval) * 2 ** Math.min(failures - 1, 10))))
        if (backlog && capacity - held >= batchThreshold) return
        yield* awaitLatch(wake)
        yield* wake.close
      })
    )
    /** The safety net: wakes the claimer every poll interval even if no notification came. */
    const poller = Effect.forever(Effect.zipRight(sleep(pollInterval), Effect.sync(() => wake.unsafeOpen())))

    /** One runner's seat: the job it runs and when that job's time is up. */
    interface Slot {
      fiber: Fiber.RuntimeFiber<void> | undefined
      job: ClaimedJob | undefined
      deadline: number
      timedOut: boolean
    }
    const slots: ReadonlyArray<Slot> = Array.from({ length: concurrency }, () => ({
      fiber: undefined,
      job: undefined,
      deadline: Number.POSITIVE_INFINITY,
      timedOut: false
    }))
    let draining = false
    const scope = yield* Effect.scope

    /** What the store records for an attempt that ended with `exit` at `now` (an interruption is a hand-back). */
    const outcomeFor = (job: ClaimedJob, handler: JobHandler<R>, exit: Exit.Exit<void, JobFailure | AttemptTimeout>, now: number): Outcome =>
      outcomeOf(exit, { attempt: job.attempt, maxAttempts: job.maxAttempts, backoff: handler.definition.backoff, unit: Math.random(), now: new Date(now) }) ?? {
        _tag: "HandBack",
        error: handBackError(job, now, "interrupted at shutdown after the grace period")
      }

    const execute = (slot: Slot, job: ClaimedJob) =>
      Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
        const handler = handlers.get(job.kind)
        if (handler === undefined) return Effect.dieMessage(`no handler for ${job.kind}`) // claims filter by kind
        const timeout = handler.definition.timeout
        slot.job = job
        slot.timedOut = false
        slot.deadline = startedAt + Duration.toMillis(timeout)
        running++
        // The attempt's span continues the enqueuer's trace (its stored traceparent). A job
        // without one gets a span only when spans are exported: nothing would link to it.
        const parent = parentFrom(job.traceparent)
        const traced = exporting || parent._tag === "Some"
        const attempt = handler
          .run(job.args, { id: job.id, queue, kind: job.kind, attempt: job.attempt, maxAttempts: job.maxAttempts, priority: job.priority })
          .pipe(
            Effect.tapErrorCause((cause) =>
              Cause.isInterruptedOnly(cause) || Cause.failureOption(cause).pipe(Option.exists((e) => e._tag === "Snooze"))
                ? Effect.void // a hand-back or a snooze is not a failure
                : Effect.logWarning(`job ${job.kind} ${job.id} failed attempt ${job.attempt} of ${job.maxAttempts}`, cause).pipe(
                    Effect.annotateLogs({ job: job.id, kind: job.kind, attempt: job.attempt })
                  )
            ),
            (run) => (!traced ? run : Effect.withSpan(run, `job ${job.kind}`, {
              kind: "consumer",
              parent: parent._tag === "Some" ? parent.value : undefined,
              root: parent._tag === "None",
              captureStackTrace: false,
              attributes: { "job.id": job.id, "job.kind": job.kind, "job.attempt": job.attempt, "job.queue": queue }
            }))
          )
        // Effect.exit turns the attempt's own failures and defects into a value; the finalizer also sees
        // interruption (by the watchdog on timeout, or at shutdown after the grace period). A defect in
        // the finalizer itself would be the pool's own bug: it breaks the runner, loudly.
        return Effect.onExit(Effect.exit(attempt), (outer) =>
          Effect.flatMap(Clock.currentTimeMillis, (endedAt) =>
            Effect.sync(() => {
              slot.job = undefined
              slot.deadline = Number.POSITIVE_INFINITY
              running--
              released(1)
              const exit = Exit.isSuccess(outer) ? outer.value : Exit.failCause(outer.cause)
              const ended = Exit.isInterrupted(exit) && slot.timedOut ? Exit.fail(new AttemptTimeout({ after: timeout })) : exit
              metrics.jobDuration.observe({ queue, kind: job.kind }, (endedAt - startedAt) / 1000)
              completer.add({ id: job.id, lease: job.lease, queue, kind: job.kind, outcome: outcomeFor(job, handler, ended, endedAt) })
            })
          )
        ).pipe(Effect.asVoid)
      })

    const startRunner = (slot: Slot) =>
      Effect.forever(Effect.flatMap(buffer.take, (job) => execute(slot, job))).pipe(
        Effect.catchAllDefect((defect) => Effect.logError(`queue ${queue}: a runner broke`, defect)),
        Effect.forever,
        Effect.annotateLogs("actor", `runner:${queue}`), // not the watchdog's, when it seats a new runner
        Effect.provide(context),
        Effect.forkIn(scope),
        Effect.tap((fiber) => Effect.sync(() => (slot.fiber = fiber)))
      )

    /**
     * Timeouts without a timer per job: a runner runs its handler inline, and
     * this watchdog interrupts a runner whose job is past its deadline (the job
     * records a timeout, not a hand-back), then seats a fresh runner.
     */
    const tick = Duration.millis(
      Math.min(1_000, Math.max(10, Math.min(...[...handlers.values()].map((h) => Duration.toMillis(h.definition.timeout))) / 10))
    )
    const watchdog = Effect.forever(
      Effect.gen(function* () {
        yield* sleep(tick)
        const now = yield* Clock.currentTimeMillis
        for (const slot of slots) {
          const fiber = slot.fiber
          if (slot.job === undefined || slot.timedOut || now < slot.deadline || fiber === undefined || draining) continue
          slot.timedOut = true
          yield* Fiber.interrupt(fiber).pipe(
            Effect.zipRight(Effect.suspend(() => (draining ? Effect.void : startRunner(slot)))),
            Effect.forkIn(scope)
          )
        }
      })
    )

    yield* Effect.forEach(slots, startRunner, { discard: true })
    const watchdogFiber = yield* spawnActor(`watchdog:${queue}`, watchdog)
    const claimerFiber = yield* spawnActor(`pool:${queue}`, claimer)
    const pollerFiber = yield* spawnActor(`poll:${queue}`, poller)

    const drain = (grace: Duration.Duration) =>
      Effect.gen(function* () {
        draining = true
        yield* Fiber.interrupt(pollerFiber)
        yield* Fiber.interrupt(claimerFiber)
        handBack(buffer.takeAll())
        buffer.close() // idle runners stop; busy ones finish their job first
        const runners = slots.flatMap((slot) => (slot.fiber === undefined ? [] : [slot.fiber]))
        // drain runs in a finalizer (uninterruptible): the wait opts back in so the grace period can end it
        const finished = yield* Fiber.awaitAll(runners).pipe(Effect.interruptible, Effect.timeout(grace), Effect.exit)
        if (Exit.isFailure(finished)) {
          yield* Effect.logWarning(`queue ${queue}: ${running} job(s) still running after ${Duration.format(grace)}; handing them back`)
          yield* Fiber.interruptAll(runners)
        }
        yield* Fiber.interrupt(watchdogFiber)
      })

    return { queue, drain } satisfies PoolHandle
  })
