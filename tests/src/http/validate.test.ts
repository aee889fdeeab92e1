import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { describe, expect, it } from "vitest"
import { Hours, PlanStep } from "../../../domain/callbacks/Business.ts"
import { decodeAll } from "../../../src/http/Validate.ts"

describe("the validator's errors", () => {
  const Shape = Schema.Struct({ hours: Schema.optional(Hours), step: Schema.optional(PlanStep), name: Schema.optional(Schema.String) })

  it("name each wrong member once, and an optional object by its own wrong members only", () => {
    const errors = Either.getLeft(decodeAll(Shape, { hours: { mon: [["25:00", "10:00"]] }, step: { phone: "x", ringSeconds: 1 }, name: 5 }, "body"))
    expect(errors._tag === "Some" ? errors.value.map((e) => `${e.in} ${e.path}: ${e.message}`) : []).toEqual([
      'body /hours/mon/0: must be ["HH:MM", "HH:MM"] (24-hour; "24:00" closes at midnight)',
      "body /step/phone: must be a phone number in E.164 (+<country code><number>)",
      "body /step/ringSeconds: must be an integer from 5 to 120",
      "body /name: Expected string, actual 5"
    ])
  })

  it("still name an object member that is not an object", () => {
    const errors = Either.getLeft(decodeAll(Shape, { step: "+14155550100" }, "body"))
    expect(errors._tag === "Some" ? errors.value.map((e) => `${e.path}: ${e.message}`) : []).toEqual([
      '/step: Expected PlanStep, actual "+14155550100"'
    ])
  })
})
