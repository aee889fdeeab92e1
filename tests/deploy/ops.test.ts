/**
 * The operations assets (deploy/prometheus, deploy/grafana, the PrometheusRule
 * and the KEDA queries under deploy/k8s, docs/runbook.md) pass scripts/check-ops.mjs without promtool, and a broken
 * copy of each fails it with the problem the check is there to catch. (CI runs
 * the same script with promtool: PromQL parsing and `promtool test rules`.)
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

const checkOps = (...args: Array<string>) => {
  const run = spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "scripts", "check-ops.mjs"), "--no-promtool", ...args], {
    cwd: repo,
    encoding: "utf8",
    timeout: 60_000
  })
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

interface Panel {
  id: number
  type: string
  gridPos: { h: number; w: number; x: number; y: number }
  targets?: Array<{ expr: string }>
}

const copies: Array<string> = []
afterAll(() => {
  for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true })
})

/** A copy of what the script reads, in a directory of its own, changed by `change`. */
const brokenCopy = (change: (root: string) => void): string => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-ops-"))
  copies.push(root)
  for (const dir of ["deploy/prometheus", "deploy/grafana", "deploy/k8s"]) fs.cpSync(path.join(repo, dir), path.join(root, dir), { recursive: true })
  fs.mkdirSync(path.join(root, "docs"))
  fs.copyFileSync(path.join(repo, "docs", "runbook.md"), path.join(root, "docs", "runbook.md"))
  change(root)
  return root
}
const edit = (file: string, change: (text: string) => string) => {
  const before = fs.readFileSync(file, "utf8")
  const after = change(before)
  if (after === before) throw new Error(`the change to ${file} changed nothing`)
  fs.writeFileSync(file, after)
}

describe("scripts/check-ops.mjs", () => {
  it("passes the shipped rules, dashboard, PrometheusRule, scaler queries and runbook", () => {
    const { status, output } = checkOps()
    expect(output).toMatch(/check-ops: ok; \d+ alerts/)
    expect(output).toMatch(/[1-9]\d* scaler queries/)
    expect(status).toBe(0)
  })

  it("finds what drifts", () => {
    const root = brokenCopy((root) => {
      const dashboardFile = path.join(root, "deploy/grafana/switchboard.json")
      const dashboard = JSON.parse(fs.readFileSync(dashboardFile, "utf8")) as { panels: Array<Panel> }
      const [first, second, third, fourth, fifth, sixth] = dashboard.panels.filter((p) => p.type !== "row" && p.targets !== undefined)
      if (first === undefined || second === undefined || third === undefined || fourth === undefined || fifth === undefined || sixth === undefined) {
        throw new Error("the dashboard has fewer panels than this test breaks")
      }
      second.id = first.id
      third.targets = [{ expr: "sum(rate(switchboard_no_such_metric_total[5m]))" }]
      fourth.targets = [{ expr: 'sum by (operation, le) (rate(switchboard_twilio_request_duration_seconds_bucket{queue=~"$nowhere"}[5m]))' }]
      fifth.gridPos = { ...sixth.gridPos }
      sixth.targets = [{ expr: "switchboard:never_recorded:rate5m" }]
      fs.writeFileSync(dashboardFile, JSON.stringify(dashboard))
      edit(path.join(root, "deploy/prometheus/alerts.yaml"), (text) => text.replace("expr: switchboard_database_up == 0", 'expr: switchboard_database_up{outcome="down"} == 0'))
      edit(path.join(root, "docs/runbook.md"), (text) => text.replace("### SwitchboardCircuitOpen", "### The circuit is open"))
      edit(path.join(root, "deploy/prometheus/tests/processes.yaml"), (text) =>
        text.replace("      - eval_time: 2m\n        alertname: SwitchboardDatabaseUnavailable\n        exp_alerts: []\n", ""))
      edit(path.join(root, "deploy/k8s/components/prometheus-operator/kustomization.yaml"), (text) => text.replace(/^ {2}- prometheusrule\.yaml\n/m, ""))
      edit(path.join(root, "deploy/k8s/kustomization.yaml"), (text) => text.replace(/^ {2}- networkpolicy\.yaml\n/m, "  - networkpolicy.yaml\n  - components/prometheus-operator/prometheusrule.yaml\n"))
      edit(path.join(root, "deploy/k8s/components/keda/scaledobject.yaml"), (text) =>
        text.replace("switchboard_job_oldest_available_age_seconds{", "switchboard_job_oldest_age_seconds{").replace('state="available"', 'status="available"'))
    })
    const { status, output } = checkOps("--root", root)
    expect(status).toBe(1)
    for (const expected of [
      /panel \d+ .*: the id is used by another panel/,
      /switchboard_no_such_metric_total is not a metric the app exports/,
      /uses \$nowhere, which is no variable of the dashboard/,
      /switchboard_twilio_request_duration_seconds_bucket has no label "queue"/,
      /groups by "operation", a label none of switchboard_twilio_request_duration_seconds_bucket has/,
      /gridPos overlaps panel \d+/,
      /switchboard:never_recorded:rate5m is not recorded by any rule/,
      /alert SwitchboardDatabaseUnavailable: switchboard_database_up has no label "outcome"/,
      /docs\/runbook.md has no section "SwitchboardCircuitOpen"/,
      /alert SwitchboardDatabaseUnavailable: no unit test .* does not fire/,
      /components\/prometheus-operator\/prometheusrule.yaml: differs from deploy\/prometheus/,
      /components\/prometheus-operator\/kustomization.yaml: does not list prometheusrule.yaml/,
      /deploy\/k8s\/kustomization.yaml: lists a PrometheusRule/,
      /ScaledObject switchboard-worker trigger oldest-available-job-age: switchboard_job_oldest_age_seconds is not a metric the app exports/,
      /ScaledObject switchboard-worker trigger available-jobs: switchboard_job_queue_depth has no label "status"/
    ]) {
      expect(output).toMatch(expected)
    }
  })
})
