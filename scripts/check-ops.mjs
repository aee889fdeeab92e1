#!/usr/bin/env node
/**
 * Checks the operations assets that ship with Switchboard, so that a rule, a
 * panel or a runbook link that drifts from the app fails CI instead of a
 * night on call:
 *
 * - deploy/prometheus/{recording,alerts}.yaml: every alert has a severity, a
 *   summary, a description and a runbook_url whose anchor is a heading of
 *   docs/runbook.md; every recorded series an expression reads is recorded;
 *   every alert has a promtool unit test (deploy/prometheus/tests/) where it
 *   fires, for each of its severities, and one where it does not.
 * - deploy/k8s/components/prometheus-operator/prometheusrule.yaml holds exactly
 *   the groups of those files and is listed in that component's kustomization,
 *   not in the base's (`--write` regenerates it).
 * - The Prometheus queries of the KEDA ScaledObjects under deploy/k8s (the
 *   prometheus triggers) name metrics and labels the app exports, and parse.
 * - deploy/grafana/*.json: schemaVersion, uid, a Prometheus datasource
 *   variable that every panel and target uses, unique panel ids, gridPos
 *   inside the 24 columns without overlaps, every target with a refId and an
 *   expr, every $variable defined.
 * - Every `switchboard_*`, `process_*` and `nodejs_*` metric named by a rule, a
 *   panel or a scaler's query is one the app exports (read from infra/observability/Metrics.ts's
 *   registry) or one of COMING below, and every label it matches or groups by
 *   is one of the metric's labels or a target label.
 * - With promtool on the PATH: every PromQL expression of the rules and the
 *   dashboards parses (template variables substituted, checked as recording
 *   rules of a temporary file by `promtool check rules`), the rule files pass
 *   `promtool check rules`, and the unit tests pass `promtool test rules`.
 *
 *   node --import tsx scripts/check-ops.mjs                     # all; promtool steps only if it is installed
 *   node --import tsx scripts/check-ops.mjs --require-promtool  # CI: a missing promtool is an error
 *   node --import tsx scripts/check-ops.mjs --no-promtool       # skip the promtool steps (npm test)
 *   node --import tsx scripts/check-ops.mjs --write             # regenerate the PrometheusRule, then check
 *   node --import tsx scripts/check-ops.mjs --root DIR          # check DIR/deploy and DIR/docs (tests use broken copies)
 *
 * Exit status: 0 when nothing is wrong, 1 otherwise (each problem on a line), 2 on a usage error.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { isDeepStrictEqual } from "node:util"
import { parse, parseAllDocuments, stringify } from "yaml"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

// --- the command line ---

const argv = process.argv.slice(2)
const flags = new Set(argv.filter((a) => a.startsWith("--") && a !== "--root"))
const rootAt = argv.indexOf("--root")
const root = rootAt === -1 ? repo : path.resolve(argv[rootAt + 1] ?? "")
const known = new Set(["--write", "--require-promtool", "--no-promtool"])
if ([...flags].some((f) => !known.has(f)) || (rootAt !== -1 && argv[rootAt + 1] === undefined) || (flags.has("--no-promtool") && flags.has("--require-promtool"))) {
  console.error("usage: node --import tsx scripts/check-ops.mjs [--write] [--require-promtool | --no-promtool] [--root DIR]")
  process.exit(2)
}

// --- what is checked against ---

/** The runbook every alert links to; its anchor is the alert's name in lower case. */
const RUNBOOK_BASE = "https://github.com/switchboard/switchboard/blob/main/docs/runbook.md"
const SEVERITIES = new Set(["critical", "warning"])
/** Rule files, in the order their groups appear in the PrometheusRule. */
const RULE_FILES = ["recording.yaml", "alerts.yaml"]
/** Labels Prometheus adds to every series of a target (its job, instance and discovery labels). */
const TARGET_LABELS = new Set(["job", "instance", "namespace", "pod", "container", "service", "node", "endpoint", "role", "__name__"])

/**
 * Metrics a change is adding to Metrics.ts before the rules can see them
 * exported, as `name: { type, labels }` (none now). A name the registry
 * exports wins (its own type and labels are used); one of these that it does
 * not export yet is listed as a notice.
 */
const COMING = {}

/** Grafana's own variables, as a valid PromQL piece each. */
const GRAFANA_BUILTINS = {
  __rate_interval: "5m",
  __interval: "1m",
  __range: "1h",
  __range_s: "3600",
  __range_ms: "3600000",
  __interval_ms: "60000",
  __dashboard: "switchboard",
  __org: "1",
  __user: "admin"
}

const problems = []
const notices = []
const problem = (where, what) => problems.push(`${where}: ${what}`)
const rel = (file) => path.relative(root, file) || file

// --- the metrics the app exports ---

const exported = async () => {
  let module
  try {
    module = await import(path.join(repo, "infra/observability/Metrics.ts"))
  } catch (error) {
    console.error(`check-ops: cannot load infra/observability/Metrics.ts (run with node --import tsx): ${error.message}`)
    process.exit(2)
  }
  const Effect = await import("effect/Effect")
  const metrics = Effect.runSync(Effect.provide(module.Metrics, module.Metrics.Default))
  const byName = new Map()
  for (const metric of metrics.registry.getMetricsAsArray()) {
    byName.set(metric.name, { type: metric.type, labels: [...(metric.labelNames ?? [])], source: "exported" })
  }
  return byName
}

const registry = await exported()
const catalogue = new Map(registry)
for (const [name, spec] of Object.entries(COMING)) {
  if (!catalogue.has(name)) {
    catalogue.set(name, { ...spec, source: "coming" })
    notices.push(`${name} is in the list of coming metrics but infra/observability/Metrics.ts does not export it yet`)
  } else if (!isDeepStrictEqual([...catalogue.get(name).labels].sort(), [...spec.labels].sort())) {
    notices.push(`${name}: the app exports it with labels (${catalogue.get(name).labels.join(", ")}), the list of coming metrics said (${spec.labels.join(", ")}); the app's are checked`)
  }
}

/** The catalogue entry of a series name: the metric itself, or a histogram's _bucket, _sum or _count. */
const lookup = (name) => {
  const direct = catalogue.get(name)
  if (direct !== undefined) return { ...direct, bucket: false }
  const match = /^(.*)_(bucket|sum|count)$/.exec(name)
  if (match !== null) {
    const base = catalogue.get(match[1])
    if (base !== undefined && (base.type === "histogram" || base.type === "summary")) return { ...base, bucket: match[2] === "bucket" }
  }
  return undefined
}

// --- PromQL, read just enough: selectors, their matchers, and `by` clauses ---

const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf", "nan", "start", "end"])

const tokenize = (expr) => {
  const tokens = []
  let i = 0
  while (i < expr.length) {
    const c = expr[i]
    if (/\s/.test(c)) i++
    else if (c === "#") while (i < expr.length && expr[i] !== "\n") i++
    else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1
      let value = ""
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === "\\" && c !== "`") j++
        value += expr[j] ?? ""
        j++
      }
      tokens.push({ kind: "string", value })
      i = j + 1
    } else if (/[a-zA-Z_:]/.test(c)) {
      const match = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))
      tokens.push({ kind: "ident", value: match[0] })
      i += match[0].length
    } else if (/[0-9.]/.test(c)) {
      const match = /^[0-9.]+(e[+-]?[0-9]+)?([a-zA-Z0-9]*)/.exec(expr.slice(i))
      tokens.push({ kind: "number", value: match[0] })
      i += match[0].length
    } else {
      const two = expr.slice(i, i + 2)
      const op = ["=~", "!~", "!=", "==", ">=", "<="].includes(two) ? two : c
      tokens.push({ kind: "punct", value: op })
      i += op.length
    }
  }
  return tokens
}

/** Index of the parenthesis that closes the one at `open`. */
const closing = (tokens, open) => {
  let depth = 0
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i].value === "(" && tokens[i].kind === "punct") depth++
    if (tokens[i].value === ")" && tokens[i].kind === "punct" && --depth === 0) return i
  }
  return tokens.length - 1
}
const opening = (tokens, close) => {
  let depth = 0
  for (let i = close; i >= 0; i--) {
    if (tokens[i].value === ")" && tokens[i].kind === "punct") depth++
    if (tokens[i].value === "(" && tokens[i].kind === "punct" && --depth === 0) return i
  }
  return 0
}

/** Selectors (`name{label op "value", ...}`) and `by (labels)` clauses with the token span they aggregate. */
const readPromql = (expr) => {
  const tokens = tokenize(expr)
  const selectors = []
  const groupings = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (t.kind !== "ident") continue
    const next = tokens[i + 1]
    if (["by", "without", "on", "ignoring", "group_left", "group_right"].includes(t.value) && next?.value === "(") {
      const end = closing(tokens, i + 1)
      const labels = tokens.slice(i + 2, end).filter((x) => x.kind === "ident").map((x) => x.value)
      if (t.value === "by") {
        // `sum by (l) (expr)` or `sum(expr) by (l)`
        const after = tokens[end + 1]
        const span = after?.value === "(" ? [end + 1, closing(tokens, end + 1)] : tokens[i - 1]?.value === ")" ? [opening(tokens, i - 1), i - 1] : undefined
        if (span !== undefined) groupings.push({ labels, span })
      }
      i = end
      continue
    }
    if (KEYWORDS.has(t.value) || next?.value === "(" || ["by", "without"].includes(next?.value)) continue
    const selector = { name: t.value, matchers: [], at: i }
    if (next?.value === "{") {
      let j = i + 2
      while (j < tokens.length && tokens[j].value !== "}") {
        if (tokens[j].kind === "ident") selector.matchers.push({ label: tokens[j].value, op: tokens[j + 1]?.value, value: tokens[j + 2]?.value })
        j += 3
        if (tokens[j]?.value === ",") j++
      }
      i = j
    }
    selectors.push(selector)
  }
  for (const grouping of groupings) {
    grouping.selectors = selectors.filter((s) => s.at > grouping.span[0] && s.at < grouping.span[1])
    grouping.relabels = tokens.slice(grouping.span[0], grouping.span[1]).some((x) => x.kind === "ident" && /^label_(replace|join)$/.test(x.value))
  }
  return { selectors, groupings }
}

const isCatalogued = (name) => /^(switchboard_|process_|nodejs_)/.test(name)

/** Metric names and labels of one expression against the catalogue and the recorded series. */
const checkNames = (where, expr, recorded) => {
  const { selectors, groupings } = readPromql(expr)
  for (const s of selectors) {
    if (s.name.includes(":")) {
      if (!recorded.has(s.name)) problem(where, `${s.name} is not recorded by any rule of deploy/prometheus`)
      continue
    }
    if (!isCatalogued(s.name)) continue
    const metric = lookup(s.name)
    if (metric === undefined) {
      problem(where, `${s.name} is not a metric the app exports (infra/observability/Metrics.ts) nor a coming one`)
      continue
    }
    for (const m of s.matchers) {
      if (TARGET_LABELS.has(m.label) || metric.labels.includes(m.label) || (m.label === "le" && metric.bucket)) continue
      problem(where, `${s.name} has no label "${m.label}" (its labels: ${metric.labels.join(", ") || "none"})`)
    }
  }
  for (const g of groupings) {
    if (g.relabels || g.selectors.length === 0) continue
    const metrics = g.selectors.map((s) => (s.name.includes(":") || !isCatalogued(s.name) ? undefined : lookup(s.name)))
    if (metrics.some((m) => m === undefined)) continue
    const allowed = new Set([...TARGET_LABELS, ...metrics.flatMap((m) => m.labels), ...(metrics.some((m) => m.bucket) ? ["le"] : [])])
    for (const label of g.labels) {
      if (!allowed.has(label)) problem(where, `groups by "${label}", a label none of ${[...new Set(g.selectors.map((s) => s.name))].join(", ")} has`)
    }
  }
}

// --- the rule files ---

const promDir = path.join(root, "deploy", "prometheus")
const readYamlFile = (file) => {
  try {
    return parse(fs.readFileSync(file, "utf8"))
  } catch (error) {
    problem(rel(file), `does not parse: ${error.message}`)
    return undefined
  }
}

const ruleGroups = []
for (const name of RULE_FILES) {
  const file = path.join(promDir, name)
  if (!fs.existsSync(file)) {
    problem(rel(file), "is missing")
    continue
  }
  const doc = readYamlFile(file)
  if (!Array.isArray(doc?.groups)) problem(rel(file), "has no groups")
  for (const group of doc?.groups ?? []) ruleGroups.push({ file, group })
}

const expressions = [] // { where, expr }
const recorded = new Set()
const alerts = new Map() // name -> { severities: Set, where }
const groupNames = new Set()
for (const { file, group } of ruleGroups) {
  const where = `${rel(file)} group ${group?.name}`
  if (typeof group?.name !== "string" || group.name === "") problem(rel(file), "a group has no name")
  else if (groupNames.has(group.name)) problem(where, "the group name is used twice")
  groupNames.add(group?.name)
  for (const rule of group?.rules ?? []) {
    if (typeof rule.record === "string") {
      if (recorded.has(rule.record)) problem(where, `${rule.record} is recorded twice`)
      if (!rule.record.includes(":")) problem(where, `${rule.record}: recorded series are named level:metric:operation`)
      recorded.add(rule.record)
    }
  }
}
for (const { file, group } of ruleGroups) {
  for (const rule of group?.rules ?? []) {
    const name = rule.record ?? rule.alert
    const where = `${rel(file)} ${rule.record === undefined ? "alert" : "record"} ${name}`
    if (typeof rule.expr !== "string" || rule.expr.trim() === "") {
      problem(where, "has no expr")
      continue
    }
    expressions.push({ where, expr: rule.expr })
    checkNames(where, rule.expr, recorded)
    if (rule.alert === undefined) continue
    const severity = rule.labels?.severity
    if (!SEVERITIES.has(severity)) problem(where, `severity must be one of ${[...SEVERITIES].join(", ")}, not ${severity}`)
    for (const key of ["summary", "description", "runbook_url"]) {
      if (typeof rule.annotations?.[key] !== "string" || rule.annotations[key].trim() === "") problem(where, `has no ${key} annotation`)
    }
    const runbook = `${RUNBOOK_BASE}#${rule.alert.toLowerCase()}`
    if (rule.annotations?.runbook_url !== undefined && rule.annotations.runbook_url !== runbook) problem(where, `runbook_url must be ${runbook}`)
    const entry = alerts.get(rule.alert) ?? { severities: new Set(), where }
    if (entry.severities.has(severity)) problem(where, `a second ${severity} rule of the same alert`)
    entry.severities.add(severity)
    alerts.set(rule.alert, entry)
  }
}

// --- the runbook: a section per alert, and no section for an alert that is gone ---

/** GitHub's anchor of a heading. */
const slug = (heading) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
const runbookFile = path.join(root, "docs", "runbook.md")
const anchors = new Set()
if (fs.existsSync(runbookFile)) {
  let fence = false
  for (const line of fs.readFileSync(runbookFile, "utf8").split("\n")) {
    if (/^```/.test(line)) fence = !fence
    const heading = fence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) anchors.add(slug(heading[1]))
  }
} else problem(rel(runbookFile), "is missing")
for (const [name, { where }] of alerts) {
  if (!anchors.has(name.toLowerCase())) problem(where, `docs/runbook.md has no section "${name}" (anchor #${name.toLowerCase()})`)
}
for (const anchor of anchors) {
  if (anchor.startsWith("switchboard") && ![...alerts.keys()].some((name) => name.toLowerCase() === anchor)) {
    problem(rel(runbookFile), `section #${anchor} is named like an alert, but no alert has that name`)
  }
}

// --- the promtool unit tests: each alert fires (at each severity) somewhere, and stays quiet somewhere ---

const testsDir = path.join(promDir, "tests")
const testFiles = fs.existsSync(testsDir) ? fs.readdirSync(testsDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(testsDir, f)) : []
if (testFiles.length === 0) problem(rel(testsDir), "holds no promtool unit tests")
const fired = new Map() // alert -> Set of severities seen firing
const quiet = new Set()
for (const file of testFiles) {
  const doc = readYamlFile(file)
  if (doc === undefined) continue
  const loads = (doc.rule_files ?? []).map((f) => path.resolve(path.dirname(file), f))
  for (const name of RULE_FILES) {
    if (!loads.includes(path.join(promDir, name))) problem(rel(file), `rule_files does not load ${name}`)
  }
  for (const test of doc.tests ?? []) {
    for (const check of test.alert_rule_test ?? []) {
      const where = `${rel(file)} test "${test.name ?? "?"}" at ${check.eval_time}`
      if (!alerts.has(check.alertname)) {
        problem(where, `tests ${check.alertname}, which is no alert of deploy/prometheus`)
        continue
      }
      const expected = check.exp_alerts ?? []
      if (expected.length === 0) quiet.add(check.alertname)
      for (const alert of expected) {
        const seen = fired.get(check.alertname) ?? new Set()
        seen.add(alert.exp_labels?.severity)
        fired.set(check.alertname, seen)
        for (const key of ["summary", "description", "runbook_url"]) {
          if (alert.exp_annotations?.[key] === undefined) problem(where, `the expected ${check.alertname} does not assert its ${key}`)
        }
      }
    }
  }
}
for (const [name, { severities, where }] of alerts) {
  for (const severity of severities) {
    if (!fired.get(name)?.has(severity)) problem(where, `no unit test in deploy/prometheus/tests makes it fire at severity ${severity}`)
  }
  if (!quiet.has(name)) problem(where, "no unit test in deploy/prometheus/tests checks a case where it does not fire")
}

// --- the PrometheusRule: the same groups, generated, in the Operator's component (not the base) ---

const k8sDir = path.join(root, "deploy", "k8s")
const operatorDir = path.join(k8sDir, "components", "prometheus-operator")
const ruleFile = path.join(operatorDir, "prometheusrule.yaml")
const prometheusRule = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: { name: "switchboard", labels: { "app.kubernetes.io/name": "switchboard", "app.kubernetes.io/component": "alerting" } },
  spec: { groups: ruleGroups.map(({ group }) => group) }
}
const RULE_HEADER = `# Switchboard's recording and alerting rules for the Prometheus Operator: the groups of
# deploy/prometheus/recording.yaml and deploy/prometheus/alerts.yaml, unchanged. Generated by
#   node --import tsx scripts/check-ops.mjs --write
# from those files; do not edit it by hand (CI fails when it differs from them). It belongs to
# the prometheus-operator component, which an overlay adds: a cluster without the Operator has
# no PrometheusRule kind, leaves the component out, and loads the two rule files into Prometheus
# (rule_files) instead. If your Prometheus selects rules by label (ruleSelector), add that label
# in the overlay.
`
if (flags.has("--write")) {
  fs.writeFileSync(ruleFile, RULE_HEADER + stringify(prometheusRule, { lineWidth: 0 }))
  console.log(`check-ops: wrote ${rel(ruleFile)}`)
}
if (!fs.existsSync(ruleFile)) problem(rel(ruleFile), "is missing (node --import tsx scripts/check-ops.mjs --write makes it)")
else {
  const doc = readYamlFile(ruleFile)
  if (doc !== undefined && !isDeepStrictEqual(doc, prometheusRule)) {
    problem(rel(ruleFile), "differs from deploy/prometheus/{recording,alerts}.yaml: run node --import tsx scripts/check-ops.mjs --write")
  }
}
const componentFile = path.join(operatorDir, "kustomization.yaml")
const component = fs.existsSync(componentFile) ? readYamlFile(componentFile) : undefined
if (component === undefined) problem(rel(componentFile), "is missing")
else if (!(component.resources ?? []).includes("prometheusrule.yaml")) problem(rel(componentFile), "does not list prometheusrule.yaml")
const baseFile = path.join(k8sDir, "kustomization.yaml")
const base = fs.existsSync(baseFile) ? readYamlFile(baseFile) : undefined
if ((base?.resources ?? []).some((r) => path.basename(r) === "prometheusrule.yaml")) {
  problem(rel(baseFile), "lists a PrometheusRule: it needs the Operator's CRDs, so it belongs to components/prometheus-operator only")
}

// --- the autoscalers' queries: KEDA ScaledObjects' prometheus triggers ---

const manifestFiles = (dir) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? manifestFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []))
    : []
let scalerQueries = 0
for (const file of manifestFiles(k8sDir)) {
  const parsedDocs = parseAllDocuments(fs.readFileSync(file, "utf8"))
  const errors = parsedDocs.flatMap((d) => d.errors.map((e) => e.message))
  if (errors.length > 0) {
    problem(rel(file), `does not parse: ${errors[0]}`)
    continue
  }
  const docs = parsedDocs.map((d) => d.toJS())
  for (const doc of docs) {
    if (doc?.kind !== "ScaledObject") continue
    for (const [i, trigger] of (doc.spec?.triggers ?? []).entries()) {
      if (trigger?.type !== "prometheus") continue
      const where = `${rel(file)} ScaledObject ${doc.metadata?.name} trigger ${trigger.name ?? i}`
      const query = trigger.metadata?.query
      if (typeof query !== "string" || query.trim() === "") {
        problem(where, "has no query")
        continue
      }
      scalerQueries++
      expressions.push({ where, expr: query })
      checkNames(where, query, recorded)
    }
  }
}

// --- the dashboards ---

const PANEL_TYPES = new Set(["row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "heatmap", "state-timeline", "piechart"])
const grafanaDir = path.join(root, "deploy", "grafana")
const dashboards = fs.existsSync(grafanaDir) ? fs.readdirSync(grafanaDir).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(grafanaDir, f)) : []
if (dashboards.length === 0) problem(rel(grafanaDir), "holds no dashboard")
let panelCount = 0

const variableReferences = (text) => [...text.matchAll(/\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z0-9_]+)/g)].map((m) => m[1] ?? m[2] ?? m[3])

for (const file of dashboards) {
  const where = rel(file)
  let dashboard
  try {
    dashboard = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (error) {
    problem(where, `is not JSON: ${error.message}`)
    continue
  }
  if (!Number.isInteger(dashboard.schemaVersion) || dashboard.schemaVersion < 36) problem(where, `schemaVersion must be an integer of 36 or more, not ${dashboard.schemaVersion}`)
  if (typeof dashboard.uid !== "string" || !/^[A-Za-z0-9_-]{1,40}$/.test(dashboard.uid)) problem(where, "uid must be 1 to 40 letters, digits, - or _")
  if (typeof dashboard.title !== "string" || dashboard.title === "") problem(where, "has no title")
  if (dashboard.id !== undefined && dashboard.id !== null) problem(where, "id must be null or absent (Grafana assigns it on import)")
  const variables = dashboard.templating?.list ?? []
  const datasource = variables.find((v) => v.type === "datasource" && v.query === "prometheus")
  if (datasource === undefined) problem(where, "has no datasource variable of type prometheus (templating.list)")
  const dsRefs = datasource === undefined ? [] : [`\${${datasource.name}}`, `$${datasource.name}`]
  const usesVariable = (ds) => ds !== undefined && ds !== null && typeof ds === "object" && ds.type === "prometheus" && dsRefs.includes(ds.uid)
  const defined = new Set([...variables.map((v) => v.name), ...Object.keys(GRAFANA_BUILTINS)])
  const substitutes = Object.fromEntries(
    variables.map((v) => {
      const first = v.options?.[0]?.value
      const current = Array.isArray(v.current?.value) ? v.current.value[0] : v.current?.value
      const value = v.type === "interval" || v.type === "custom" || v.type === "constant" ? (current !== undefined && current !== "$__all" ? current : first ?? v.query) : ".*"
      return [v.name, String(value)]
    })
  )
  const substitute = (text) => text.replace(/\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z0-9_]+)/g, (whole, a, b, c) => {
    const name = a ?? b ?? c
    return substitutes[name] ?? GRAFANA_BUILTINS[name] ?? whole
  })
  const checkVariables = (at, text) => {
    for (const name of variableReferences(text)) if (!defined.has(name)) problem(at, `uses $${name}, which is no variable of the dashboard`)
  }

  for (const v of variables) {
    if (v.type !== "query") continue
    const at = `${where} variable ${v.name}`
    if (!usesVariable(v.datasource)) problem(at, "does not query the datasource variable")
    const query = typeof v.query === "string" ? v.query : v.query?.query
    if (typeof query !== "string" || query === "") {
      problem(at, "has no query")
      continue
    }
    checkVariables(at, query)
    const labelValues = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)\s*$/.exec(query)
    const queryResult = /^query_result\((.*)\)\s*$/.exec(query)
    if (labelValues !== null) {
      expressions.push({ where: at, expr: substitute(labelValues[1]) })
      checkNames(at, `sum by (${labelValues[2]}) (${substitute(labelValues[1])})`, recorded)
    } else if (queryResult !== null) {
      expressions.push({ where: at, expr: substitute(queryResult[1]) })
      checkNames(at, substitute(queryResult[1]), recorded)
    }
  }

  const panels = []
  for (const panel of dashboard.panels ?? []) {
    panels.push({ panel, top: true })
    for (const inner of panel.panels ?? []) panels.push({ panel: inner, top: false })
  }
  if (panels.length === 0) problem(where, "has no panels")
  const ids = new Set()
  const boxes = []
  for (const { panel, top } of panels) {
    panelCount++
    const at = `${where} panel ${panel.id} "${panel.title ?? ""}"`
    if (!Number.isInteger(panel.id) || panel.id < 1) problem(at, "id must be a positive integer")
    else if (ids.has(panel.id)) problem(at, "the id is used by another panel")
    ids.add(panel.id)
    if (!PANEL_TYPES.has(panel.type)) problem(at, `type ${panel.type} is not one of ${[...PANEL_TYPES].join(", ")}`)
    if (typeof panel.title !== "string" || panel.title.trim() === "") problem(at, "has no title")
    const g = panel.gridPos
    if (g === undefined || !["h", "w", "x", "y"].every((k) => Number.isInteger(g[k]))) problem(at, "gridPos must have integer h, w, x and y")
    else {
      if (g.w < 1 || g.h < 1 || g.x < 0 || g.y < 0 || g.x + g.w > 24) problem(at, `gridPos ${JSON.stringify(g)} is not inside the 24 columns`)
      if (top) {
        const other = boxes.find((b) => g.x < b.g.x + b.g.w && b.g.x < g.x + g.w && g.y < b.g.y + b.g.h && b.g.y < g.y + g.h)
        if (other !== undefined) problem(at, `gridPos overlaps panel ${other.id}`)
        boxes.push({ g, id: panel.id })
      }
    }
    if (panel.type === "row" || panel.type === "text") continue
    if (!usesVariable(panel.datasource)) problem(at, `datasource must be { "type": "prometheus", "uid": "\${${datasource?.name ?? "datasource"}}" }`)
    if (!Array.isArray(panel.targets) || panel.targets.length === 0) problem(at, "has no targets")
    const refIds = new Set()
    for (const target of panel.targets ?? []) {
      const tat = `${at} target ${target.refId}`
      if (typeof target.refId !== "string" || target.refId === "") problem(at, "a target has no refId")
      else if (refIds.has(target.refId)) problem(tat, "the refId is used twice")
      refIds.add(target.refId)
      if (target.datasource !== undefined && !usesVariable(target.datasource)) problem(tat, "its datasource is not the datasource variable")
      if (typeof target.expr !== "string" || target.expr.trim() === "") {
        problem(tat, "has no expr")
        continue
      }
      checkVariables(tat, target.expr)
      const expr = substitute(target.expr)
      expressions.push({ where: tat, expr })
      checkNames(tat, expr, recorded)
    }
  }
}

// --- promtool ---

let parsed = 0
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" })
const hasPromtool = promtool.error === undefined && promtool.status === 0
if (flags.has("--no-promtool")) notices.push("promtool steps skipped (--no-promtool)")
else if (!hasPromtool) {
  if (flags.has("--require-promtool")) problem("promtool", "is not on the PATH (Debian package prometheus)")
  else notices.push("promtool is not on the PATH: the PromQL parse check, promtool check rules and promtool test rules were skipped")
} else {
  const run = (args) => spawnSync("promtool", args, { encoding: "utf8", cwd: root })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-check-ops-"))
  try {
    // every expression, as a recording rule of its own: promtool names the rule that does not parse
    const file = path.join(dir, "expressions.yaml")
    const rules = expressions.map(({ expr }, i) => ({ record: `check_ops:expr_${i}`, expr }))
    fs.writeFileSync(file, stringify({ groups: [{ name: "check-ops", rules }] }, { lineWidth: 0 }))
    const check = run(["check", "rules", file])
    if (check.status === 0) parsed = expressions.length
    else {
      const failed = new Set()
      for (const match of `${check.stdout}${check.stderr}`.matchAll(/check_ops:expr_(\d+)"?:?\s*(.*)/g)) {
        const index = Number(match[1])
        failed.add(index)
        problem(expressions[index].where, `PromQL does not parse: ${match[2].trim()}\n    ${expressions[index].expr.trim().replace(/\n\s*/g, " ")}`)
      }
      if (failed.size === 0) problem("promtool check rules (expressions)", `${check.stdout}${check.stderr}`.trim())
      parsed = expressions.length - failed.size
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const ruleCheck = run(["check", "rules", ...RULE_FILES.map((f) => path.join(promDir, f))])
  if (ruleCheck.status !== 0) problem("promtool check rules deploy/prometheus", `${ruleCheck.stdout}${ruleCheck.stderr}`.trim())
  if (testFiles.length > 0) {
    const unit = run(["test", "rules", ...testFiles])
    if (unit.status !== 0) problem("promtool test rules deploy/prometheus/tests", `${unit.stdout}${unit.stderr}`.trim())
  }
}

// --- the verdict ---

for (const notice of notices) console.log(`check-ops: note: ${notice}`)
const alertRules = ruleGroups.flatMap(({ group }) => group?.rules ?? []).filter((r) => r.alert !== undefined).length
const summary = `${alerts.size} alerts (${alertRules} rules), ${recorded.size} recording rules, ${testFiles.length} test files, ${dashboards.length} dashboard(s) with ${panelCount} panels, ${scalerQueries} scaler queries, ${expressions.length} expressions${hasPromtool && !flags.has("--no-promtool") ? ` (${parsed} parsed by promtool)` : ""}`
if (problems.length > 0) {
  for (const p of problems) console.error(`check-ops: ${p}`)
  console.error(`check-ops: ${problems.length} problem(s); ${summary}`)
  process.exit(1)
}
console.log(`check-ops: ok; ${summary}`)
