/**
 * Promotion: scheduled and retryable jobs become `available` when their
 * `run_at` arrives, and their queues are woken. Sleeps until the next due job
 * (at most the poll interval), and wakes early when a scheduled job is
 * inserted anywhere (`@scheduled` notification) or fails here.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { JobStore, SCHEDULED_PAYLOAD } from "../infra/jobs/JobStore.ts"
import { Notifier } from "../infra/jobs/Notifier.ts"
import { awaitLatch, loop, outageTolerant, spawnActor } from "./Actor.ts"
import { EngineConfig } from "./EngineConfig.ts"

const BATCH = 1_000

export const promoteOnce = Effect.flatMap(JobStore, (store) => store.promoteDue(BATCH))

/** How long to sleep after a step: none when a full batch moved, else until the next due job, capped by the poll interval. */
export const delayAfter = (
  result: { readonly promoted: number; readonly nextDueAt: Option.Option<Date> },
  now: number,
  pollInterval: Duration.Duration
): Duration.Duration => {
  if (result.promoted >= BATCH) return Duration.zero
  const poll = Duration.toMillis(pollInterval)
  const untilDue = Option.match(result.nextDueAt, { onNone: () => poll, onSome: (at) => at.getTime() - now })
  return Duration.millis(Math.max(5, Math.min(poll, untilDue)))
}

export const PromoterLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { pollInterval } = yield* EngineConfig
    const notifier = yield* Notifier
    const wake = yield* Effect.makeLatch(false)
    yield* notifier.subscribe(SCHEDULED_PAYLOAD, () => wake.unsafeOpen())
    const wait = (result: Effect.Effect.Success<typeof promoteOnce>) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* awaitLatch(wake, delayAfter(result, now, pollInterval))
        yield* wake.close
      })
    const guard = outageTolerant("promotion")
    yield* spawnActor("promoter", loop(guard.step(promoteOnce, { promoted: 0, nextDueAt: Option.none() }), wait))
  })
)
