/**
 * What job handlers may use: transactions, the job store (to enqueue follow-up
 * jobs), metrics, the callback platform's services, and the SQL client infra's
 * repositories run on. The application's own handlers call repository verbs;
 * the SQL client is there for handlers that test the engine itself.
 *
 * Its own module so that `src/App.ts` (which runs the handlers) and
 * `src/jobs/index.ts` (which lists them) both import it without importing each other.
 */
import type * as Layer from "effect/Layer"
import type { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import type { CallbackStore } from "../../infra/callbacks/CallbackStore.ts"
import type { Transaction } from "../../infra/db/Transaction.ts"
import type { JobStore } from "../../infra/jobs/JobStore.ts"
import type { Metrics } from "../../infra/observability/Metrics.ts"
import type { Telephony } from "../../infra/twilio/Telephony.ts"
import type { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"

/** The SQL client under infra's repositories (what a `Transaction` runs on), named without importing `@effect/sql` outside infra/. */
export type SqlConnection = Layer.Layer.Context<typeof Transaction.Default>

export type HandlerServices = SqlConnection | Transaction | JobStore | Metrics | CallbackStore | CallbackConfig | TwilioGateway | Telephony
