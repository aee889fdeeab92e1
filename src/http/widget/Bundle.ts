/**
 * The widget as served: one classic script (an IIFE) holding the texts, the
 * stylesheet, the countries' calling codes, the bot check's loader and the
 * element, assembled once when the module loads. Its content hash names the
 * versioned, immutable URL (`/widget/v1.<hash>.js`) and is the ETag of both
 * URLs; the gzipped bytes are made once too, for clients that accept them.
 *
 * `v1` is the element's contract (its tag, attributes, texts' keys, custom
 * properties and events): a change that breaks a page embedding it gets `v2`.
 */
import { createHash } from "node:crypto"
import { gzipSync } from "node:zlib"
import { getCountries, getCountryCallingCode } from "libphonenumber-js/max"
import { BOT_CHECK_JS } from "./BotCheck.ts"
import { ELEMENT_JS } from "./Element.ts"
import { WIDGET_CSS } from "./Styles.ts"
import { WIDGET_TEXTS } from "./Texts.ts"

export const WIDGET_MAJOR = "v1"

/** `US1,GB44,...`: what a number without `+` is read with, per country (the widget's phone hint). */
const callingCodes = getCountries()
  .map((country) => `${country}${getCountryCallingCode(country)}`)
  .join(",")

/** Collapses the stylesheet's indentation and line breaks (it has no strings that care). */
const compactCss = (css: string): string => css.replace(/\s*\n\s*/g, " ").trim()

export interface WidgetBundle {
  readonly source: string
  readonly gzip: Uint8Array<ArrayBuffer>
  /** The first 16 hex digits of the source's SHA-256. */
  readonly hash: string
  /** `v1.<hash>.js`, the versioned file under `/widget/`. */
  readonly file: string
  readonly etag: string
}

export const makeBundle = (): WidgetBundle => {
  const source = [
    `/*! <switchboard-callback> ${WIDGET_MAJOR}: a callback button for your site (docs/widget.md) */`,
    "(() => {",
    '"use strict"',
    `const TEXTS = ${JSON.stringify(WIDGET_TEXTS)}`,
    `const CSS = ${JSON.stringify(compactCss(WIDGET_CSS))}`,
    `const CODES = ${JSON.stringify(callingCodes)}`,
    BOT_CHECK_JS.trim(),
    ELEMENT_JS.trim(),
    "})()",
    ""
  ].join("\n")
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16)
  return { source, gzip: new Uint8Array(gzipSync(source, { level: 9 })), hash, file: `${WIDGET_MAJOR}.${hash}.js`, etag: `"${hash}"` }
}

export const widgetBundle: WidgetBundle = makeBundle()
