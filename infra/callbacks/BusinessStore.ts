/**
 * The `businesses` table: create, update, find and list. Rows decode through
 * the domain's Business schema (Rows.ts). Statements run on the ambient
 * connection, so inside `inTransaction` they join the caller's transaction.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import type { BusinessInput } from "../../domain/callbacks/Business.ts"
import { narrow } from "../db/DatabaseError.ts"
import { BusinessRow, decodeFirst, decodeRow, decodeRows } from "./Rows.ts"

export class BusinessStore extends Effect.Service<BusinessStore>()("switchboard/infra/BusinessStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const hoursOf = (input: BusinessInput) => (input.hours === undefined ? null : JSON.stringify(input.hours))

    const create = (id: string, input: BusinessInput) =>
      sql`
        INSERT INTO businesses (id, name, phone, timezone, country, hours, escalation, after_hours, ring_seconds, max_concurrent_calls, vip_phones, sms_fallback, allowed_origins)
        VALUES (${id}, ${input.name}, ${input.phone}, ${input.timezone}, ${input.country ?? null},
                ${hoursOf(input)}::jsonb, ${JSON.stringify(input.escalation)}::jsonb, ${JSON.stringify(input.afterHours)}::jsonb,
                ${input.ringSeconds}, ${input.maxConcurrentCalls}, ${[...input.vipPhones]}::text[], ${input.smsFallback}, ${[...input.allowedOrigins]}::text[])
        RETURNING *`.pipe(
        narrow("businesses.create"),
        Effect.flatMap(([row]) => decodeRow(BusinessRow)(row))
      )

    /** Replaces the business's fields; none when there is no such business. */
    const update = (id: string, input: BusinessInput) =>
      sql`
        UPDATE businesses SET name = ${input.name}, phone = ${input.phone}, timezone = ${input.timezone}, country = ${input.country ?? null},
               hours = ${hoursOf(input)}::jsonb, escalation = ${JSON.stringify(input.escalation)}::jsonb, after_hours = ${JSON.stringify(input.afterHours)}::jsonb,
               ring_seconds = ${input.ringSeconds}, max_concurrent_calls = ${input.maxConcurrentCalls},
               vip_phones = ${[...input.vipPhones]}::text[], sms_fallback = ${input.smsFallback},
               allowed_origins = ${[...input.allowedOrigins]}::text[], updated_at = now()
         WHERE id = ${id}
        RETURNING *`.pipe(narrow("businesses.update"), Effect.flatMap(decodeFirst(BusinessRow)))

    const find = (id: string) => sql`SELECT * FROM businesses WHERE id = ${id}`.pipe(narrow("businesses.find"), Effect.flatMap(decodeFirst(BusinessRow)))

    /** Up to `limit` businesses by id, after `after` when given. */
    const list = (limit: number, after: string | undefined) =>
      sql`SELECT * FROM businesses WHERE ${after === undefined ? sql`true` : sql`id > ${after}`} ORDER BY id LIMIT ${limit}`.pipe(
        narrow("businesses.list"),
        Effect.flatMap(decodeRows(BusinessRow))
      )

    return { create, update, find, list }
  })
}) {}
