/** The operator console's stores as one layer; and their union, for the services a handler may use. */
import * as Layer from "effect/Layer"
import { AuditLog } from "./AuditLog.ts"
import { Operators } from "./Operators.ts"

export type ConsoleTables = Operators | AuditLog

export const ConsoleTablesLive = Layer.mergeAll(Operators.Default, AuditLog.Default)
