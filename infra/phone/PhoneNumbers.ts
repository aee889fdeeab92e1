/**
 * Phone numbers as visitors type them, normalised to E.164 with
 * libphonenumber-js (full metadata, so the number's type is known).
 * A number without a country code is read in the business's country.
 */
import { isSupportedCountry, parsePhoneNumberFromString, type PhoneNumberType } from "libphonenumber-js/max"

export type PhoneProblem =
  | { readonly _tag: "Unparseable" }
  | { readonly _tag: "Invalid" }
  /** Valid, but of a type that cannot receive a call back and an SMS (a landline, a pager, ...). */
  | { readonly _tag: "NotMobile"; readonly type: PhoneNumberType | undefined }

export type PhoneResult = { readonly _tag: "E164"; readonly e164: string; readonly country: string | undefined } | PhoneProblem

/** Types that can take an SMS: mobile, or numbers whose plan does not say (fixed line or mobile). */
const TEXTABLE: ReadonlySet<PhoneNumberType> = new Set(["MOBILE", "FIXED_LINE_OR_MOBILE"])

/** Whether `country` is an ISO 3166 alpha-2 code the phone metadata knows. */
export const isPhoneCountry = (country: string): boolean => isSupportedCountry(country)

/** Normalises `input`; `requireMobile` refuses numbers that cannot take an SMS. */
export const normalizePhone = (input: string, country?: string, requireMobile = false): PhoneResult => {
  const defaultCountry = country !== undefined && isSupportedCountry(country) ? country : undefined
  const parsed = input.length > 64 ? undefined : parsePhoneNumberFromString(input, defaultCountry === undefined ? {} : { defaultCountry })
  if (parsed === undefined) return { _tag: "Unparseable" }
  if (!parsed.isValid()) return { _tag: "Invalid" }
  const type = parsed.getType()
  // a type the metadata cannot tell is given the benefit of the doubt
  if (requireMobile && type !== undefined && !TEXTABLE.has(type)) return { _tag: "NotMobile", type }
  return { _tag: "E164", e164: parsed.number, country: parsed.country }
}
