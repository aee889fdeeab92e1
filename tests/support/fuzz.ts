/** What the HTTP fuzz suites share: turning arbitrary values into request text. */

/** Percent-encodes the UTF-8 bytes of `text`, all but RFC 3986 unreserved characters. */
export const pct = (text: string): string =>
  [...new TextEncoder().encode(text)]
    .map((byte) => {
      const c = String.fromCharCode(byte)
      return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
    })
    .join("")

/** Any value as request body text (what a careless client might send). */
export const serialize = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    try {
      return String(value)
    } catch {
      return "[unprintable]"
    }
  }
}
