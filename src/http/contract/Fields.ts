/** Field schemas the contracts share: text limits, ids, pages and cursors. */
import * as Schema from "effect/Schema"

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/

/** Text that is storable and printable: `min` to `max` characters, no control characters besides tab and newlines, well-formed UTF-16. */
export const PlainText = (min: number, max: number) =>
  Schema.String.pipe(
    Schema.filter((s) => s.length >= min && s.length <= max && !CONTROL.test(s) && (s as string & { isWellFormed(): boolean }).isWellFormed(), {
      message: () => `must be ${min} to ${max} characters of text without control characters`,
      jsonSchema: { minLength: min, maxLength: max }
    })
  )

/** An optional member that also accepts `null` for "absent". */
export const Optional = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { nullable: true })

/** A path id: any text (an id that is not one of ours is a 404, not a 400). */
export const IdParams = Schema.Struct({ id: Schema.String.annotations({ description: "the resource's id (a UUID)" }) })

/** `?limit=`: an integer from 1 to `max`, `fallback` when absent. */
export const Limit = (fallback: number, max: number) => {
  const message = () => `must be an integer from 1 to ${max}`
  const digits = Schema.String.pipe(Schema.pattern(/^\d{1,9}$/, { message })).annotations({ description: `page size, 1 to ${max} (default ${fallback})` })
  return Schema.optionalWith(Schema.compose(digits, Schema.NumberFromString).pipe(Schema.between(1, max, { message })), { default: () => fallback })
}

/** A page of `item`s; `nextCursor` is present while there may be more. */
export const Page = <S extends Schema.Schema.AnyNoContext>(item: S, identifier: string) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.optional(Schema.String) }).annotations({ identifier })
