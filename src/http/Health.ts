/**
 * The answers of the probes. Liveness reads only the health registry (no
 * database), so a Postgres outage never gets a process restarted. Readiness
 * asks the database which migrations it has (which also proves it answers,
 * within 2 s) and whether the process is draining.
 *
 * The database check answers within its deadline whatever the database does:
 * the query runs disconnected, so when the deadline passes the probe answers
 * at once while the query (a hung pool acquire, a socket to a stopped server,
 * or @effect/sql-pg's cancel of the statement, which may take 5 s more) is
 * interrupted in the background. Its outcome feeds the outage log
 * (infra/db/DatabaseOutage.ts): an answer ends an outage, no answer starts one.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isUnavailable } from "../../infra/db/DatabaseError.ts"
import { DatabaseOutage } from "../../infra/db/DatabaseOutage.ts"
import { loadMigrations, pendingAmong } from "../../infra/db/Migrator.ts"
import { Telephony } from "../../infra/twilio/Telephony.ts"
import { REASON_TEXT } from "../../infra/twilio/TwilioErrors.ts"
import { TwilioGateway } from "../../infra/twilio/TwilioGateway.ts"
import { HealthRegistry } from "../../supervisors/HealthRegistry.ts"
import { Lifecycle } from "../../supervisors/Lifecycle.ts"

export interface Check {
  readonly status: "ok" | "failing" | "not_configured"
  readonly detail?: string | undefined
}

const READINESS_TIMEOUT = Duration.seconds(2)

interface NoAnswer {
  readonly _tag: "NoAnswer"
  readonly message: string
}

export class Health extends Effect.Service<Health>()("switchboard/src/http/Health", {
  effect: Effect.gen(function* () {
    const registry = yield* HealthRegistry
    const lifecycle = yield* Lifecycle
    const known = yield* loadMigrations()
    const context = yield* Effect.context<Effect.Effect.Context<ReturnType<typeof pendingAmong>>>()

    const actors: Effect.Effect<Check> = Effect.map(registry.report, (reports) => {
      const stalled = reports.filter((r) => r.stalled)
      return stalled.length === 0
        ? { status: "ok" }
        : {
            status: "failing",
            detail: `stalled (no heartbeat for over ${Duration.format(registry.stallTimeout)}): ${stalled.map((r) => r.name).join(", ")}`
          }
    })

    const outage = yield* Effect.serviceOption(DatabaseOutage)
    const answered = Option.match(outage, { onNone: () => Effect.void, onSome: (o) => o.answered })
    const unanswered = (reason: string) => Option.match(outage, { onNone: () => Effect.void, onSome: (o) => o.failed(reason) })

    /** Whether the database answers, and whether it has every migration of this build. */
    const checkDatabase: Effect.Effect<{ readonly database: Check; readonly migrations: Check }> = pendingAmong(known).pipe(
      Effect.provide(context),
      // a hung query must not hold the answer past the deadline: it is interrupted in the background
      Effect.disconnect,
      Effect.timeoutFail({ duration: READINESS_TIMEOUT, onTimeout: (): NoAnswer => ({ _tag: "NoAnswer", message: `no answer within ${Duration.format(READINESS_TIMEOUT)}` }) }),
      Effect.tap(() => answered),
      Effect.map((pending) => {
        return {
          database: { status: "ok" as const },
          migrations: pending.length === 0 ? { status: "ok" as const } : { status: "failing" as const, detail: `pending: ${pending.join(", ")}` }
        }
      }),
      Effect.catchAll((error) =>
        Effect.as(error._tag === "NoAnswer" || isUnavailable(error) ? unanswered(`readiness: ${error.message}`) : Effect.void, {
          database: { status: "failing" as const, detail: error.message },
          migrations: { status: "failing" as const, detail: "unknown while the database does not answer" }
        })
      )
    )

    /**
     * Whether the database answers, and whether it has every migration of this build and this process has
     * finished its migration step (until then its API answers 503: Middleware.ts `untilMigrated`).
     */
    const database: Effect.Effect<{ readonly database: Check; readonly migrations: Check }> = checkDatabase.pipe(
      Effect.flatMap((checks) =>
        Effect.map(lifecycle.migrated, (migrated) =>
          migrated || checks.migrations.status !== "ok" ? checks : { ...checks, migrations: { status: "failing" as const, detail: "starting: this process has not finished its migration step" } }
        )
      )
    )

    const gateway = yield* TwilioGateway
    const telephony = yield* Telephony
    /**
     * Which Twilio is used, and whether it lets requests through: an open circuit fails the check, and so does a
     * configuration Twilio refuses (named first: it is what an operator must fix).
     */
    const twilio: Effect.Effect<Check> = Effect.map(Effect.all([telephony.circuit("voice"), telephony.circuit("sms"), telephony.misconfigured]), ([voice, sms, misconfigured]) => {
      const where = gateway.mode === "twilio" ? "Twilio" : `the simulator at ${gateway.simulatorUrl ?? "?"}`
      const reasons = [...new Set(misconfigured.map((m) => m.reason))].map((reason) => {
        const first = misconfigured.find((m) => m.reason === reason)
        const channels = misconfigured.filter((m) => m.reason === reason).map((m) => m.channel)
        return `misconfigured: ${reason}: ${REASON_TEXT[reason]} (${first?.code ?? "?"}: ${first?.message ?? ""}) since ${first?.since.toISOString() ?? "?"}; ${channels.join(" and ")} stopped`
      })
      const detail = [...reasons, `${where}; voice circuit ${voice}, sms circuit ${sms}`].join("; ")
      return voice === "open" || sms === "open" || reasons.length > 0 ? { status: "failing", detail } : { status: "ok", detail }
    })

    const draining: Effect.Effect<Check> = Effect.map(lifecycle.draining, (yes) => (yes ? { status: "failing", detail: "shutting down" } : { status: "ok" }))

    return { actors, database, draining, twilio }
  })
}) {}
