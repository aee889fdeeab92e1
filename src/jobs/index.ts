/** Every job kind and cron schedule this application runs. */
import type { CronDefinition } from "../../domain/jobs/CronDefinition.ts"
import type { JobHandler } from "../../supervisors/JobRegistry.ts"
import type { HandlerServices } from "./HandlerServices.ts"
import { DialHandler, WatchHandler } from "../callbacks/Dialer.ts"
import { callbackCrons, CleanupHandler, ReportHandler } from "../callbacks/Maintenance.ts"
import { EscalateHandler, SmsFallbackHandler, VerificationSendHandler } from "../callbacks/Messaging.ts"
import { DeliverHandler } from "../callbacks/OutboundWebhooks.ts"
import { BulkRunHandler } from "./BulkOperations.ts"
import { PingHandler } from "./Diagnostics.ts"

export const handlers: ReadonlyArray<JobHandler<HandlerServices>> = [
  PingHandler,
  VerificationSendHandler,
  DialHandler,
  WatchHandler,
  EscalateHandler,
  SmsFallbackHandler,
  CleanupHandler,
  ReportHandler,
  DeliverHandler,
  BulkRunHandler
]

export const crons: ReadonlyArray<CronDefinition> = callbackCrons
