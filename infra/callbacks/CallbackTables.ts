/** The callback tables' stores, one per aggregate, as one layer; and their union, for the services a handler may use. */
import * as Layer from "effect/Layer"
import { AttemptStore } from "./AttemptStore.ts"
import { BotChecks } from "./BotChecks.ts"
import { BusinessKeys } from "./BusinessKeys.ts"
import { BusinessStore } from "./BusinessStore.ts"
import { DepartmentStore } from "./DepartmentStore.ts"
import { HistoryStore } from "./HistoryStore.ts"
import { MessageStore } from "./MessageStore.ts"
import { RequestStore } from "./RequestStore.ts"
import { ServerSecrets } from "./ServerSecrets.ts"
import { VerificationStore } from "./VerificationStore.ts"
import { type WebhookConfig, WebhookConfigLive } from "./WebhookConfig.ts"
import { WebhookEndpoints } from "./WebhookEndpoints.ts"
import { WebhookOutbox } from "./WebhookOutbox.ts"

export type CallbackTables = BusinessStore | DepartmentStore | BusinessKeys | BotChecks | RequestStore | VerificationStore | AttemptStore | MessageStore | HistoryStore | WebhookEndpoints | WebhookOutbox | WebhookConfig | ServerSecrets

export const CallbackTablesLive = Layer.mergeAll(BusinessStore.Default, DepartmentStore.Default, BusinessKeys.Default, BotChecks.Default, RequestStore.Default, VerificationStore.Default, AttemptStore.Default, MessageStore.Default, HistoryStore.Default, WebhookEndpoints.Default, WebhookOutbox.Default, WebhookConfigLive, ServerSecrets.Default)
