/**
 * The operator console's people: named accounts with a role, the admin token's
 * own operator, and what an audit row says about one of their actions.
 */
import * as Schema from "effect/Schema"
import { Timestamp } from "../Timestamp.ts"

/** `admin` sees and changes everything; `viewer` sees everything and changes nothing. */
export const Role = Schema.Literal("admin", "viewer").annotations({
  identifier: "OperatorRole",
  description: "admin: sees and changes everything; viewer: sees everything, changes nothing"
})
export type Role = typeof Role.Type

/** An account's name: lowercase letters, digits, `.`, `_`, `@` and `-`, up to 63 characters. */
export const OperatorName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._@-]{0,62}$/, { message: () => "must be 1 to 63 lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit" })
).annotations({ description: "the account's name" })

/** The operator the admin token signs in as (it has no account row). */
export const TOKEN_OPERATOR = "admin-token"

/** A password as an account is given one: long enough to resist guessing, short enough to hash. */
export const Password = Schema.String.pipe(
  Schema.minLength(12, { message: () => "must be at least 12 characters" }),
  Schema.maxLength(256, { message: () => "must be at most 256 characters" })
)

/** Someone signed in: who, with which role. */
export interface Operator {
  readonly name: string
  readonly role: Role
}

/** Where an operator action came from. */
export const Channel = Schema.Literal("console", "api", "cli")
export type Channel = typeof Channel.Type

/** One operator action, as the audit trail keeps it. */
export const AuditEntry = Schema.Struct({
  id: Schema.String.annotations({ description: "increasing: later actions have larger ids" }),
  at: Timestamp,
  operator: Schema.String.annotations({ description: "the account, `admin-token`, or the name a refused sign-in gave" }),
  role: Schema.optional(Role).annotations({ description: "the operator's role then; absent for a refused sign-in" }),
  via: Channel,
  action: Schema.String.annotations({ description: "what was done: the admin API operation id (`retryJob`, `pauseQueue`, ...) whether through the API or the console; `signIn`, `signOut`; `addOperator`, `changeOperator`, `removeOperator` from the command line" }),
  target: Schema.optional(Schema.String.annotations({ description: "what it was done to: `job:42`, `queue:dial`, `business:<id>`" })),
  outcome: Schema.Literal("ok", "refused", "failed"),
  detail: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  ip: Schema.optional(Schema.String),
  userAgent: Schema.optional(Schema.String)
}).annotations({ identifier: "AuditEntry" })
export type AuditEntry = typeof AuditEntry.Type
