/** `diagnostics.ping`: a job that only logs, for checking that a deployment's queues run end to end. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { defineJob } from "../../domain/jobs/JobDefinition.ts"
import { handle } from "../../supervisors/JobRegistry.ts"

export const Ping = defineJob({
  kind: "diagnostics.ping",
  args: Schema.Struct({ message: Schema.optional(Schema.String.pipe(Schema.maxLength(1_000))) }),
  maxAttempts: 3,
  timeout: "10 seconds"
})

export const PingHandler = handle(Ping, (args, job) =>
  Effect.logInfo(`ping: ${args.message ?? "pong"}`).pipe(Effect.annotateLogs({ job: job.id, attempt: job.attempt }))
)
