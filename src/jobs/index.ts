/** Every job kind and cron schedule this application runs. */
import type { CronDefinition } from "../../domain/jobs/CronDefinition.ts"
import type { JobHandler } from "../../supervisors/JobRegistry.ts"
import { PingHandler } from "./Diagnostics.ts"

export const handlers: ReadonlyArray<JobHandler> = [PingHandler]

export const crons: ReadonlyArray<CronDefinition> = []
