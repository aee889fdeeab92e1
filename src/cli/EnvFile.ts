/**
 * `--dotenv PATH`: variables from a file such as `.env` (copied from
 * `.env.example`), read the way Node's own `--env-file` reads them, one line
 * each: `KEY=value`, `#` comments, an optional `export ` prefix, a value in
 * double quotes (with `\n` escapes), single quotes or backquotes taken as
 * written, an unquoted value ending at a `#`. A little stricter than Node: a
 * line that is not `KEY=value` is an error naming it. A variable already set
 * in the environment wins over the file, as with Node's flag.
 */
import * as fs from "node:fs"
import * as Data from "effect/Data"

/** The file cannot be read, or a line of it is not `KEY=value`. */
export class EnvFileError extends Data.TaggedError("EnvFileError")<{ readonly message: string }> {}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The unquoted or quoted value after `=`, without its comment. */
const valueOf = (raw: string, where: string): string => {
  const text = raw.trim()
  const quote = text[0]
  if (quote === '"' || quote === "'" || quote === "`") {
    const end = text.indexOf(quote, 1)
    if (end === -1) throw new EnvFileError({ message: `${where}: the value opens a ${quote} quote and does not close it` })
    const rest = text.slice(end + 1).trim()
    if (rest !== "" && !rest.startsWith("#")) throw new EnvFileError({ message: `${where}: text after the closing quote` })
    const inner = text.slice(1, end)
    return quote === '"' ? inner.replace(/\\n/g, "\n") : inner
  }
  return text.replace(/#.*$/, "").trim()
}

/** The variables a file's text sets, in order; throws an `EnvFileError` naming the line it cannot read. */
export const parseEnvFile = (text: string, name = "the env file"): ReadonlyArray<readonly [string, string]> => {
  const entries: Array<readonly [string, string]> = []
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim()
    if (trimmed === "" || trimmed.startsWith("#")) return
    const where = `${name} line ${index + 1}`
    const assignment = trimmed.replace(/^export\s+/, "")
    const equals = assignment.indexOf("=")
    if (equals === -1) throw new EnvFileError({ message: `${where}: expected KEY=value, found ${JSON.stringify(trimmed)}` })
    const key = assignment.slice(0, equals).trim()
    if (!KEY.test(key)) throw new EnvFileError({ message: `${where}: ${JSON.stringify(key)} is not a variable name` })
    entries.push([key, valueOf(assignment.slice(equals + 1), where)] as const)
  })
  return entries
}

/** Sets the file's variables that the environment does not set already; returns the names it set. */
export const loadEnvFile = (file: string, env: NodeJS.ProcessEnv = process.env): ReadonlyArray<string> => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    throw new EnvFileError({ message: `--dotenv ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error)}` })
  }
  const fromFile = new Map(parseEnvFile(text, file)) // a key set twice: the last line wins
  const set = [...fromFile.keys()].filter((key) => env[key] === undefined)
  for (const key of set) env[key] = fromFile.get(key)
  return set
}
