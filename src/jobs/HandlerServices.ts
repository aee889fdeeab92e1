/**
 * What job handlers may use: transactions, the job store (to enqueue follow-up
 * jobs), metrics, the callback platform's services, and the SQL client infra's
 * repositories run on. The application's own handlers call repository verbs;
 * the SQL connection is there for handlers that test the engine itself.
 *
 * Its own module so that `src/App.ts` (which runs the handlers) and
 * `src/jobs/index.ts` (which lists them) both import it without importing each other.
 */
import type { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import type { CallbackTables } from "../../infra/callbacks/CallbackTables.ts"
import type { SqlConnection, Transaction } from "../../infra/db/Transaction.ts"
import type { BulkJobs } from "../../infra/jobs/BulkJobs.ts"
import type { JobStore } from "../../infra/jobs/JobStore.ts"
import type { Metrics } from "../../infra/observability/Metrics.ts"
import type { Telephony } from "../../infra/twilio/Telephony.ts"
import type { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"

export type { SqlConnection }

export type HandlerServices = SqlConnection | Transaction | JobStore | BulkJobs | Metrics | CallbackTables | CallbackConfig | TwilioGateway | Telephony
