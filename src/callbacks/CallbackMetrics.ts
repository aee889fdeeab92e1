/** `switchboard_callbacks_in_state{status}`: one grouped count per scrape, every status reported (0 when none). */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CallbackStatuses } from "../../domain/callbacks/CallbackState.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"

export const CallbackMetricsLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const requests = yield* RequestStore
    for (const status of CallbackStatuses) metrics.callbacksInState.set({ status }, 0)
    yield* metrics.addSource(
      "callbacks",
      Effect.map(requests.countByStatus, (rows) => {
        for (const status of CallbackStatuses) metrics.callbacksInState.set({ status }, rows.find((r) => r.status === status)?.n ?? 0)
      })
    )
  })
)
