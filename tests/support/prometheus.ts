/**
 * The Prometheus text exposition format (0.0.4), read strictly: `parseExposition`
 * for the values, `expositionProblems` for everything `promtool check metrics`
 * refuses or lints, and more that it lets through but that would make the data
 * wrong (a series twice, a broken histogram), so `npm test` needs no promtool
 * (.ci/run still runs it on a live server). Checked here: every line reads (names, label escapes,
 * values, timestamps); each family is one contiguous group with one HELP and
 * one TYPE before its samples; no series appears twice; histogram buckets are
 * ascending, cumulative, end in `+Inf` and agree with `_count`, with `_sum`
 * present; summaries have their quantiles, `_sum` and `_count`; promlint's
 * naming rules (snake_case, `_total` exactly on counters, no `_bucket`/`_count`/
 * `_sum` outside histograms and summaries). An independent reader,
 * parse-prometheus-text-format, must see the same families, types and help.
 */
import { createRequire } from "node:module"

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  readonly line: number
}

export interface Family {
  readonly name: string
  readonly type: string | undefined
  readonly help: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

export interface Exposition {
  readonly samples: ReadonlyArray<Sample>
  /** Metric family name -> TYPE. */
  readonly types: ReadonlyMap<string, string>
  readonly families: ReadonlyArray<Family>
  /** Lines that could not be read, and families that are malformed, each saying where and why. */
  readonly problems: ReadonlyArray<string>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const SNAKE_CASE = /^[a-z_][a-z0-9_]*$/
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"])
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** A sample value as Go's strconv.ParseFloat reads it (what Prometheus uses): decimals, Inf/Infinity and NaN in any case. */
const parseValue = (text: string): number | undefined => {
  if (DECIMAL.test(text)) return Number(text)
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith("-") ? -Infinity : Infinity
  if (/^nan$/i.test(text)) return Number.NaN
  return undefined
}

/** One sample line: name, labels (only `\\`, `\"` and `\n` escapes), value, optional integer timestamp. */
const parseSampleLine = (line: string): { name: string; labels: Record<string, string>; value: number } | string => {
  const name = /^[^\s{]+/.exec(line)?.[0] ?? ""
  if (!METRIC_NAME.test(name)) return `invalid metric name "${name}"`
  let rest = line.slice(name.length)
  const labels: Record<string, string> = {}
  if (rest.startsWith("{")) {
    rest = rest.slice(1).trimStart()
    while (!rest.startsWith("}")) {
      const label = /^([^\s=]*)\s*=\s*"/.exec(rest)
      if (label === null) return "a label is not name=\"value\""
      const labelName = label[1] ?? ""
      if (!LABEL_NAME.test(labelName)) return `invalid label name "${labelName}"`
      if (labelName in labels) return `label ${labelName} appears twice`
      rest = rest.slice(label[0].length)
      let value = ""
      for (;;) {
        const char = rest[0]
        if (char === undefined || char === "\n") return `label ${labelName}: unterminated value`
        rest = rest.slice(1)
        if (char === '"') break
        if (char === "\\") {
          const escaped = rest[0]
          rest = rest.slice(1)
          if (escaped === "\\" || escaped === '"') value += escaped
          else if (escaped === "n") value += "\n"
          else return `label ${labelName}: invalid escape \\${escaped ?? ""}`
        } else value += char
      }
      labels[labelName] = value
      rest = rest.trimStart()
      if (rest.startsWith(",")) rest = rest.slice(1).trimStart()
      else if (!rest.startsWith("}")) return `label ${labelName}: expected , or } after its value`
    }
    rest = rest.slice(1)
  }
  if (!/^[ \t]/.test(rest)) return "no space before the value"
  const [valueText = "", timestamp, ...extra] = rest.trim().split(/[ \t]+/)
  const value = parseValue(valueText)
  if (value === undefined) return `invalid value "${valueText}"`
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) return `invalid timestamp "${timestamp}"`
  if (extra.length > 0) return "text after the timestamp"
  return { name, labels, value }
}

/** The suffixes a family of this type may add to its name. */
const suffixesOf = (type: string | undefined): ReadonlyArray<string> =>
  type === "histogram" ? ["_bucket", "_count", "_sum"] : type === "summary" ? ["_count", "_sum"] : []

const seriesKey = (labels: Readonly<Record<string, string>>, without?: string) =>
  JSON.stringify(Object.entries(labels).filter(([name]) => name !== without).sort(([a], [b]) => (a < b ? -1 : 1)))

/** Reads the exposition line by line; never throws: what it cannot read is a problem. */
export const readExposition = (text: string): Exposition => {
  const problems: Array<string> = []
  const families: Array<{ name: string; type: string | undefined; help: string | undefined; samples: Array<Sample> }> = []
  const ended = new Set<string>()
  let current: (typeof families)[number] | undefined
  const open = (name: string, line: number) => {
    if (current !== undefined) ended.add(current.name)
    if (ended.has(name)) problems.push(`line ${line}: ${name} continues after other families (a family is one contiguous group)`)
    current = { name, type: undefined, help: undefined, samples: [] }
    families.push(current)
    return current
  }
  if (text !== "" && !text.endsWith("\n")) problems.push("the exposition does not end with a newline")
  text.split("\n").forEach((line, index) => {
    const number = index + 1
    if (line.trim() === "") return
    const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line)
    if (meta !== null) {
      const [, keyword, name = "", rest] = meta
      if (!METRIC_NAME.test(name)) return problems.push(`line ${number}: invalid metric name "${name}" in ${keyword}`)
      const family = current?.name === name ? current : open(name, number)
      if (keyword === "HELP") {
        if (family.help !== undefined) problems.push(`line ${number}: second HELP for ${name}`)
        if (/\\[^\\n]/.test((rest ?? "").replace(/\\\\/g, ""))) problems.push(`line ${number}: HELP of ${name} has an escape other than \\\\ and \\n`)
        family.help = rest ?? ""
      } else {
        if (family.type !== undefined) problems.push(`line ${number}: second TYPE for ${name}`)
        if (family.samples.length > 0) problems.push(`line ${number}: TYPE of ${name} after its samples`)
        if (!TYPES.has(rest ?? "")) problems.push(`line ${number}: unknown TYPE "${rest ?? ""}" for ${name}`)
        family.type = rest
      }
      return
    }
    if (line.startsWith("#")) return // a comment
    const sample = parseSampleLine(line)
    if (typeof sample === "string") return problems.push(`line ${number}: ${sample}: ${line}`)
    const belongs = current !== undefined && [current.name, ...suffixesOf(current.type).map((s) => current?.name + s)].includes(sample.name)
    const family = belongs && current !== undefined ? current : open(sample.name, number)
    family.samples.push({ ...sample, line: number })
  })
  for (const family of families) problems.push(...familyProblems(family))
  const samples = families.flatMap((f) => f.samples)
  const types = new Map(families.flatMap((f) => (f.type === undefined ? [] : [[f.name, f.type] as const])))
  return { samples, types, families, problems }
}

/** What promtool (its parser and promlint) would say about one family, and its series' consistency. */
const familyProblems = (family: Family): ReadonlyArray<string> => {
  const { name, type, samples } = family
  const problems: Array<string> = []
  const say = (why: string) => problems.push(`${name}: ${why}`)
  if (family.help === undefined || family.help.trim() === "") say("no HELP text")
  if (type === undefined) say("no TYPE")
  if (!SNAKE_CASE.test(name)) say("metric names are snake_case (no capitals, no ':')")
  if (type === "counter" && !name.endsWith("_total")) say('a counter\'s name ends in "_total"')
  if (type !== "counter" && name.endsWith("_total")) say('only counters end in "_total"')
  if (type !== "histogram" && type !== "summary" && /_(bucket|count|sum)$/.test(name)) say("only histograms and summaries end in _bucket, _count or _sum")
  const seen = new Set<string>()
  for (const sample of samples) {
    const key = sample.name + seriesKey(sample.labels)
    if (seen.has(key)) say(`line ${sample.line}: series ${sample.name}${seriesKey(sample.labels)} appears twice`)
    seen.add(key)
    for (const label of Object.keys(sample.labels)) {
      if (!SNAKE_CASE.test(label) || label.startsWith("__")) say(`line ${sample.line}: label name ${label} is not snake_case or is reserved`)
    }
    if (type === "counter" && !(sample.value >= 0)) say(`line ${sample.line}: a counter's value is ${sample.value}`)
  }
  if (type === "histogram") problems.push(...histogramProblems(family))
  if (type === "summary") problems.push(...summaryProblems(family))
  return problems
}

/** Groups a family's samples by their labels, leaving one label (`le`, `quantile`) out. */
const bySeries = (samples: ReadonlyArray<Sample>, without: string) => {
  const series = new Map<string, Array<Sample>>()
  for (const sample of samples) series.set(seriesKey(sample.labels, without), [...(series.get(seriesKey(sample.labels, without)) ?? []), sample])
  return series
}

const histogramProblems = ({ name, samples }: Family): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const [key, series] of bySeries(samples, "le")) {
    const say = (why: string) => problems.push(`${name}${key}: ${why}`)
    if (series.some((s) => s.name === name)) say(`a sample named ${name} itself (a histogram has only _bucket, _count, _sum)`)
    const buckets = series.filter((s) => s.name === `${name}_bucket`)
    const bounds = buckets.map((s) => parseValue(s.labels.le ?? ""))
    if (buckets.length === 0) say("no buckets")
    if (bounds.some((b) => b === undefined || Number.isNaN(b))) say("a bucket without a numeric le label")
    for (let i = 1; i < buckets.length; i++) {
      const [previous, next] = [buckets[i - 1] as Sample, buckets[i] as Sample]
      if (!((bounds[i] ?? Number.NaN) > (bounds[i - 1] ?? Number.NaN))) say(`line ${next.line}: le="${next.labels.le}" does not follow le="${previous.labels.le}" in ascending order`)
      if (next.value < previous.value) say(`line ${next.line}: buckets are not cumulative (${next.value} after ${previous.value})`)
    }
    const last = buckets.at(-1)
    if (last !== undefined && bounds.at(-1) !== Infinity) say(`line ${last.line}: the last bucket is le="${last.labels.le}", not le="+Inf"`)
    const count = series.filter((s) => s.name === `${name}_count`)
    if (count.length !== 1) say(`${count.length} _count samples`)
    else if (last !== undefined && bounds.at(-1) === Infinity && count[0]?.value !== last.value) say(`_count ${count[0]?.value} differs from the +Inf bucket ${last.value}`)
    if (series.filter((s) => s.name === `${name}_sum`).length !== 1) say("no single _sum")
  }
  return problems
}

const summaryProblems = ({ name, samples }: Family): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const [key, series] of bySeries(samples, "quantile")) {
    const say = (why: string) => problems.push(`${name}${key}: ${why}`)
    for (const sample of series.filter((s) => s.name === name)) {
      const quantile = parseValue(sample.labels.quantile ?? "")
      if (quantile === undefined || !(quantile >= 0 && quantile <= 1)) say(`line ${sample.line}: quantile="${sample.labels.quantile ?? ""}" is not between 0 and 1`)
    }
    if (series.filter((s) => s.name === `${name}_count`).length !== 1) say("no single _count")
    if (series.filter((s) => s.name === `${name}_sum`).length !== 1) say("no single _sum")
  }
  return problems
}

/** parse-prometheus-text-format's reading: families with their TYPE (upper case) and HELP. */
interface IndependentFamily {
  readonly name: string
  readonly type: string
  readonly help: string
}
const independentParse = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => ReadonlyArray<IndependentFamily>

const unescapeHelp = (help: string) => help.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"))

/** Every reason promtool would refuse or lint this exposition, or its data would be wrong; empty when it is valid. */
export const expositionProblems = (text: string): ReadonlyArray<string> => {
  const exposition = readExposition(text)
  let independent: ReadonlyArray<IndependentFamily>
  try {
    independent = independentParse(text)
  } catch (error) {
    return [...exposition.problems, `parse-prometheus-text-format refuses it: ${String(error)}`]
  }
  const ours = exposition.families.map((f) => `${f.name} ${(f.type ?? "untyped").toUpperCase()} ${JSON.stringify(unescapeHelp(f.help ?? ""))}`)
  const theirs = independent.map((f) => `${f.name} ${f.type} ${JSON.stringify(f.help)}`)
  const disagreements = ours.filter((f, i) => theirs[i] !== f)
  if (disagreements.length > 0 || ours.length !== theirs.length) {
    return [...exposition.problems, `parse-prometheus-text-format reads the families differently, first at ${disagreements[0] ?? `family ${ours.length + 1}`}`]
  }
  return exposition.problems
}

/** Reads the exposition for its values; throws on the first line it cannot read. */
export const parseExposition = (text: string): Exposition => {
  const exposition = readExposition(text)
  const unreadable = exposition.problems.find((p) => p.startsWith("line "))
  if (unreadable !== undefined) throw new Error(unreadable)
  return exposition
}

/** The value of the one sample with this name and (at least) these labels; undefined if none. */
export const valueOf = (exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined => {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}
