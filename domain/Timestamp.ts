/** An instant: a `Date` in the domain, an ISO-8601 UTC string on the wire. */
import * as Schema from "effect/Schema"

export const Timestamp = Schema.Date.annotations({ identifier: "Timestamp", description: "ISO-8601, UTC", jsonSchema: { type: "string", format: "date-time" } })
