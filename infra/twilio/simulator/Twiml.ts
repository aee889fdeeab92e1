/**
 * Reads TwiML as Twilio does: a well-formed XML 1.0 document whose root is `<Response>`. Strict where a
 * renderer's mistake would hide: an unescaped `<` or `&`, an unknown entity, a character XML cannot carry,
 * a duplicate attribute, a mismatched or unclosed tag, anything after the root all fail with the offset.
 * It reads what TwiML uses (the declaration, elements, attributes, text, character references) and refuses
 * the rest (comments, CDATA, DOCTYPE), which no TwiML of ours contains.
 */

export interface TwimlElement {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: ReadonlyArray<TwimlNode>
}

/** An element, or the text between elements (references decoded). */
export type TwimlNode = TwimlElement | string

export class TwimlSyntaxError extends Error {
  readonly offset: number
  constructor(offset: number, detail: string) {
    super(`TwiML is not well-formed at offset ${offset}: ${detail}`)
    this.name = "TwimlSyntaxError"
    this.offset = offset
  }
}

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y
const SPACE = /[ \t\r\n]*/y
const DECLARATION = /<\?xml[ \t\r\n][^?]*\?>/y
const NAMED: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }

const isXmlChar = (code: number) =>
  code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff)

/** Parses `text` into its root element, which must be `<Response>`. */
export const parseTwiml = (text: string): TwimlElement => {
  let at = 0
  const fail = (detail: string): never => {
    throw new TwimlSyntaxError(at, detail)
  }
  const match = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = at
    const found = pattern.exec(text)
    if (found === null) return undefined
    at = pattern.lastIndex
    return found[0]
  }
  const skipSpace = () => match(SPACE)

  /** Character data up to `stop` (exclusive), references decoded; `<` is never allowed in it. */
  const characters = (stop: string): string => {
    let out = ""
    while (at < text.length && !stop.includes(text[at] ?? "")) {
      const code = text.codePointAt(at) ?? 0
      if (text[at] === "<") fail("an unescaped <")
      if (text[at] === "&") {
        const end = text.indexOf(";", at)
        const reference = end < 0 ? "" : text.slice(at + 1, end)
        const decimal = /^#([0-9]{1,7})$/.exec(reference)
        const hex = /^#x([0-9a-fA-F]{1,6})$/.exec(reference)
        const point = decimal !== null ? Number(decimal[1]) : hex !== null ? parseInt(hex[1] ?? "", 16) : undefined
        if (point !== undefined) {
          if (!isXmlChar(point)) fail(`a reference to a character XML cannot carry (&${reference};)`)
          out += String.fromCodePoint(point)
        } else {
          const named = NAMED[reference]
          if (named === undefined) fail(end < 0 ? "an & that starts no reference" : `an unknown entity &${reference};`)
          out += named
        }
        at = end + 1
        continue
      }
      if (!isXmlChar(code)) fail(`the character U+${code.toString(16).toUpperCase().padStart(4, "0")}, which XML cannot carry`)
      const width = code > 0xffff ? 2 : 1
      out += text.slice(at, at + width)
      at += width
    }
    return out
  }

  const element = (): TwimlElement => {
    if (text[at] !== "<") fail("expected an element")
    at += 1
    const name = match(NAME) ?? fail("expected an element name")
    const attributes: Record<string, string> = {}
    for (;;) {
      const spaced = (skipSpace() ?? "").length > 0
      if (text.startsWith("/>", at)) {
        at += 2
        return { name, attributes, children: [] }
      }
      if (text[at] === ">") {
        at += 1
        break
      }
      if (!spaced) fail(`expected a space, > or /> in <${name}>`)
      const key = match(NAME) ?? fail(`expected an attribute name in <${name}>`)
      if (Object.hasOwn(attributes, key)) fail(`the attribute ${key} twice in <${name}>`)
      skipSpace()
      if (text[at] !== "=") fail(`expected = after ${key}`)
      at += 1
      skipSpace()
      const quote = text[at]
      if (quote !== '"' && quote !== "'") fail(`expected a quoted value for ${key}`)
      at += 1
      attributes[key] = characters(quote ?? '"')
      if (text[at] !== quote) fail(`the value of ${key} is not closed`)
      at += 1
    }
    const children: Array<TwimlNode> = []
    for (;;) {
      if (at >= text.length) fail(`<${name}> is not closed`)
      if (text.startsWith("</", at)) {
        at += 2
        const closing = match(NAME)
        if (closing !== name) fail(`</${closing ?? ""}> closes <${name}>`)
        skipSpace()
        if (text[at] !== ">") fail(`expected > after </${name}`)
        at += 1
        return { name, attributes, children }
      }
      if (text.startsWith("<!", at) || text.startsWith("<?", at)) fail("comments, CDATA and processing instructions are not TwiML")
      if (text[at] === "<") children.push(element())
      else children.push(characters("<"))
    }
  }

  match(DECLARATION)
  skipSpace()
  const root = element()
  skipSpace()
  if (at < text.length) fail("content after the root element")
  if (root.name !== "Response") throw new TwimlSyntaxError(0, `the root is <${root.name}>, not <Response>`)
  return root
}

/** The elements among `node`'s children. */
export const elementsOf = (node: TwimlElement): ReadonlyArray<TwimlElement> => node.children.filter((child): child is TwimlElement => typeof child !== "string")

/** All the text inside `node`, concatenated. */
export const textOf = (node: TwimlElement): string => node.children.map((child) => (typeof child === "string" ? child : textOf(child))).join("")
