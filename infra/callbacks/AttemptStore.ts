/**
 * The `call_attempts` table: one row per call placed for a request, written
 * before Twilio is asked, then what Twilio reported about it. One call belongs
 * to one attempt: a call sid another attempt owns is never recorded again
 * (`unownedSid`), and a number has at most one create without a definite
 * answer at a time (`mayCreateTo`). The statuses the statements test come from the domain
 * (domain/callbacks/CallProgress.ts); rows decode through its CallAttempt
 * schema (Rows.ts). Statements run on the ambient connection, so inside
 * `inTransaction` they join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AttemptStatus } from "../../domain/callbacks/Business.ts"
import type { CallbackStatus } from "../../domain/callbacks/CallbackState.ts"
import { isEnded, UnplacedAttemptStatuses } from "../../domain/callbacks/CallProgress.ts"
import { narrow } from "../db/DatabaseError.ts"
import { nextSeq, recordFrom } from "./HistoryStore.ts"
import { AttemptRow, AttemptWithOriginRow, decodeFirst, decodeRow, decodeRows } from "./Rows.ts"

export type { AttemptWithOrigin } from "./Rows.ts"

export interface NewAttempt {
  readonly id: string
  readonly callbackId: string
  readonly level: number
  readonly attemptOnNumber: number
  readonly to: string
  readonly ringSeconds: number
  /** The request's status before this attempt, where a take-back returns it. */
  readonly fromStatus: CallbackStatus
  /** The department called for (`main` when absent). */
  readonly department?: string | undefined
}

/** What Twilio said about an attempt (`status`: one of AttemptStatus, or the row written back will not decode). */
export interface AttemptReport {
  readonly status: string
  readonly answered: boolean
  readonly callSid?: string | undefined
  readonly sequence?: number | undefined
  readonly error?: string | undefined
}

const UNPLACED: ReadonlyArray<string> = UnplacedAttemptStatuses
const PLACING: AttemptStatus = "placing"
const UNKNOWN: AttemptStatus = "unknown"
/** An attempt whose call Twilio accepted, before any report. */
const PLACED: AttemptStatus = "queued"

export class AttemptStore extends Effect.Service<AttemptStore>()("switchboard/infra/AttemptStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** Writes an attempt in `placing`, numbered after the request's previous attempts. */
    const insert = (attempt: NewAttempt) =>
      sql`
        INSERT INTO call_attempts (id, callback_id, n, level, attempt_on_number, to_phone, ring_seconds, from_status, department)
        VALUES (${attempt.id}, ${attempt.callbackId},
                (SELECT coalesce(max(n), 0) + 1 FROM call_attempts WHERE callback_id = ${attempt.callbackId}),
                ${attempt.level}, ${attempt.attemptOnNumber}, ${attempt.to}, ${attempt.ringSeconds}, ${attempt.fromStatus},
                ${attempt.department ?? "main"})
        RETURNING *`.pipe(
        narrow("attempts.insert"),
        Effect.flatMap(([row]) => decodeRow(AttemptRow)(row))
      )

    const find = (id: string) => sql`SELECT * FROM call_attempts WHERE id = ${id}`.pipe(narrow("attempts.find"), Effect.flatMap(decodeFirst(AttemptRow)))

    /** The attempt and how long (by the database's clock) since its status last changed: how long its call has been silent. */
    const findWithSilence = (id: string) =>
      sql<{ silent_ms: number }>`
        SELECT *, (extract(epoch FROM now() - status_at) * 1000)::float8 AS silent_ms FROM call_attempts WHERE id = ${id}`.pipe(
        narrow("attempts.findWithSilence"),
        Effect.flatMap((rows) =>
          rows[0] === undefined
            ? Effect.succeed(Option.none())
            : Effect.map(decodeRow(AttemptRow)(rows[0]), (attempt) => Option.some({ attempt, silentMs: Number(rows[0]?.silent_ms) }))
        )
      )

    /** The attempt, with the status it started from, locked until the transaction ends. */
    const lock = (id: string) =>
      sql`SELECT * FROM call_attempts WHERE id = ${id} FOR UPDATE`.pipe(narrow("attempts.lock"), Effect.flatMap(decodeFirst(AttemptWithOriginRow)))

    /** Whether some attempt already owns this call. */
    const isCallKnown = (callSid: string) =>
      sql`SELECT 1 FROM call_attempts WHERE call_sid = ${callSid}`.pipe(
        Effect.map((rows) => rows.length > 0),
        narrow("attempts.bySid")
      )

    /** Which of these call sids some attempt owns. */
    const ownedSids = (sids: ReadonlyArray<string>) =>
      sids.length === 0
        ? Effect.succeed(new Set<string>())
        : sql<{ call_sid: string }>`SELECT call_sid FROM call_attempts WHERE call_sid = ANY(${sids}::text[])`.pipe(
            Effect.map((rows) => new Set(rows.map((row) => row.call_sid))),
            narrow("attempts.ownedSids")
          )

    /**
     * Whether a new call to `to` may be created now: takes a transaction-scoped advisory lock on the number
     * (held until the caller's transaction ends, so two dials cannot both pass), then looks for an attempt to
     * that number, of any request, whose create has no definite answer yet (`placing` or `unknown`) and that
     * started within `horizonMs`. The caller must write its own attempt in the same transaction.
     */
    const mayCreateTo = (to: string, horizonMs: number) =>
      sql`SELECT pg_advisory_xact_lock(hashtextextended(${"switchboard:create-to:" + to}, 0))`.pipe(
        Effect.zipRight(sql<{ id: string }>`
          SELECT id FROM call_attempts
           WHERE to_phone = ${to} AND status = ANY(${UNPLACED}::text[])
             AND started_at > now() - make_interval(secs => ${horizonMs / 1000})
           LIMIT 1`),
        Effect.map((rows) => rows.length === 0),
        narrow("attempts.mayCreateTo")
      )

    /** A request's attempts, in the order they were made. */
    const listOf = (callbackId: string) =>
      sql`SELECT * FROM call_attempts WHERE callback_id = ${callbackId} ORDER BY n`.pipe(narrow("attempts.list"), Effect.flatMap(decodeRows(AttemptRow)))

    /** `sid`, unless another attempt owns that call already (then nothing: one call belongs to one attempt). */
    const unownedSid = (id: string, sid: string | undefined) =>
      sid === undefined
        ? sql`NULL::text`
        : sql`(SELECT ${sid}::text WHERE NOT EXISTS (SELECT 1 FROM call_attempts o WHERE o.call_sid = ${sid} AND o.id <> ${id}))`

    /** Records what Twilio said about an attempt; an ended call keeps the time it first ended. */
    const update = (id: string, report: AttemptReport) =>
      sql`
        UPDATE call_attempts
           SET status = ${report.status}, answered = ${report.answered},
               status_at = CASE WHEN status = ${report.status} THEN status_at ELSE now() END,
               call_sid = coalesce(call_sid, ${unownedSid(id, report.callSid)}),
               last_sequence = greatest(last_sequence, ${report.sequence ?? -1}),
               error = coalesce(${report.error ?? null}, error),
               ended_at = ${isEnded(report.status) ? sql`coalesce(ended_at, now())` : sql`ended_at`}
         WHERE id = ${id}
        RETURNING *`.pipe(
        narrow("attempts.update"),
        Effect.flatMap(([row]) => decodeRow(AttemptRow)(row))
      )

    /**
     * Twilio accepted the call: its sid, unless a status report already brought it. The first sid an
     * attempt gets is recorded in its request's history (`call.placed`), in the same statement.
     */
    const markPlaced = (id: string, callSid: string) =>
      sql`
        WITH a AS (
          UPDATE call_attempts SET call_sid = coalesce(call_sid, ${unownedSid(id, callSid)}),
                 status = CASE WHEN status = ANY(${UNPLACED}::text[]) THEN ${PLACED} ELSE status END,
                 status_at = CASE WHEN status = ANY(${UNPLACED}::text[]) THEN now() ELSE status_at END
           WHERE id = ${id} AND call_sid IS NULL
          RETURNING id, callback_id, call_sid),
        r AS (
          UPDATE callback_requests SET ${nextSeq(sql)} FROM a
           WHERE callback_requests.id = a.callback_id AND a.call_sid IS NOT NULL
          RETURNING callback_requests.*, a.id AS attempt_id, a.call_sid AS placed_sid)
        ${recordFrom(sql, "r", "call.placed", sql`jsonb_build_object('attemptId', r.attempt_id, 'callSid', r.placed_sid)`)}`.pipe(
        Effect.asVoid,
        narrow("attempts.placed")
      )

    /** Twilio's answer to the create was lost: the call may or may not exist. */
    const markUnknown = (id: string, error: string) =>
      sql`UPDATE call_attempts SET status = ${UNKNOWN}, status_at = now(), error = ${error} WHERE id = ${id} AND status = ${PLACING}`.pipe(Effect.asVoid, narrow("attempts.unknown"))

    /** Deletes an attempt whose call was never placed (only while no status report has come for it); what it was. */
    const deleteUnplaced = (id: string) =>
      sql`DELETE FROM call_attempts WHERE id = ${id} AND status = ANY(${UNPLACED}::text[]) RETURNING *`.pipe(
        narrow("attempts.delete"),
        Effect.flatMap(decodeFirst(AttemptWithOriginRow))
      )

    return { insert, find, findWithSilence, lock, isCallKnown, ownedSids, mayCreateTo, listOf, update, markPlaced, markUnknown, deleteUnplaced }
  })
}) {}
