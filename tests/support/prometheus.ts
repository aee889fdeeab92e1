/** A reader for the Prometheus text exposition format (0.0.4), strict enough to fail on malformed output. */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  readonly samples: ReadonlyArray<Sample>
  /** Metric family name -> TYPE. */
  readonly types: ReadonlyMap<string, string>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/

export const parseExposition = (text: string): Exposition => {
  const samples: Array<Sample> = []
  const types = new Map<string, string>()
  text.split("\n").forEach((line, index) => {
    const fail = (why: string) => {
      throw new Error(`line ${index + 1}: ${why}: ${line}`)
    }
    if (line === "") return
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ")
      if (name === undefined || type === undefined || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) fail("bad TYPE")
      types.set(name ?? "", type ?? "")
      return
    }
    if (line.startsWith("#")) return
    const name = NAME.exec(line)?.[0]
    if (name === undefined) return fail("no metric name")
    let rest = line.slice(name.length)
    const labels: Record<string, string> = {}
    if (rest.startsWith("{")) {
      rest = rest.slice(1)
      while (!rest.startsWith("}")) {
        const match = LABEL.exec(rest)
        if (match === null) return fail("bad label")
        labels[match[1] ?? ""] = (match[2] ?? "").replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1")
        rest = rest.slice(match[0].length)
        if (rest.startsWith(",")) rest = rest.slice(1)
      }
      rest = rest.slice(1)
    }
    const value = rest.trim().split(" ")[0] ?? ""
    const number = value === "+Inf" ? Infinity : value === "-Inf" ? -Infinity : Number(value)
    if (value === "" || (Number.isNaN(number) && value !== "NaN")) fail("bad value")
    samples.push({ name, labels, value: number })
  })
  return { samples, types }
}

/** The value of the one sample with this name and (at least) these labels; undefined if none. */
export const valueOf = (exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined => {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}
