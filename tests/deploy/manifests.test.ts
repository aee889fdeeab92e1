/**
 * deploy/ is checked against the constants the app exports (port, probe
 * paths, shutdown grace), so changing one of them without the manifests, or a
 * manifest without the app, fails here instead of in a rollout. Each check is
 * a function returning its problems; the real files must have none, and a
 * broken copy of each must have the problem the check is there to catch.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { parse, parseAllDocuments } from "yaml"
import * as Either from "effect/Either"
import { parseQueues } from "../../domain/jobs/QueueConfig.ts"
import { DEFAULT_PORT, OperationPaths } from "../../src/http/ServerConfig.ts"
import { handlers } from "../../src/jobs/index.ts"
import { DEFAULT_SHUTDOWN_GRACE_SECONDS, SHUTDOWN_AFTER_GRACE_SECONDS } from "../../supervisors/EngineConfig.ts"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const deploy = path.join(repo, "deploy")

/** Time the process needs after SHUTDOWN_GRACE to flush outcomes and close. */
const FLUSH_MARGIN_SECONDS = SHUTDOWN_AFTER_GRACE_SECONDS

// --- the shapes read here (only the fields the checks look at) ---

interface SecurityContext {
  readonly runAsNonRoot?: boolean
  readonly runAsUser?: number
  readonly readOnlyRootFilesystem?: boolean
  readonly allowPrivilegeEscalation?: boolean
  readonly capabilities?: { readonly drop?: ReadonlyArray<string> }
}
interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port?: string | number }
}
interface Container {
  readonly name?: string
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort?: number }>
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value?: string }>
  readonly envFrom?: ReadonlyArray<{ readonly configMapRef?: { readonly name?: string }; readonly secretRef?: { readonly name?: string } }>
  readonly startupProbe?: Probe
  readonly livenessProbe?: Probe
  readonly readinessProbe?: Probe
  readonly lifecycle?: { readonly preStop?: { readonly exec?: { readonly command?: ReadonlyArray<string> }; readonly sleep?: { readonly seconds?: number } } }
  readonly securityContext?: SecurityContext
  readonly volumeMounts?: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>
}
interface PodSpec {
  readonly terminationGracePeriodSeconds?: number
  readonly securityContext?: SecurityContext
  readonly containers?: ReadonlyArray<Container>
  readonly volumes?: ReadonlyArray<{ readonly name: string; readonly emptyDir?: object }>
}
interface Metadata {
  readonly name?: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
}
interface Manifest {
  readonly kind?: string
  readonly metadata?: Metadata
}
interface ConfigMap extends Manifest {
  readonly data?: Record<string, string>
}
interface Secret extends Manifest {
  readonly stringData?: Record<string, string>
}
interface Deployment extends Manifest {
  readonly spec?: { readonly template?: { readonly metadata?: Metadata; readonly spec?: PodSpec } }
}
interface Service extends Manifest {
  readonly spec?: {
    readonly selector?: Record<string, string>
    readonly ports?: ReadonlyArray<{ readonly name?: string; readonly port?: number; readonly targetPort?: string | number }>
  }
}
interface ComposeService {
  readonly image?: string
  readonly build?: string | { readonly context?: string; readonly dockerfile?: string }
  readonly environment?: Record<string, string | number | boolean | null> | ReadonlyArray<string>
  readonly depends_on?: ReadonlyArray<string> | Record<string, { readonly condition?: string }>
  readonly healthcheck?: { readonly test?: unknown }
  readonly ports?: ReadonlyArray<string | number>
  readonly volumes?: ReadonlyArray<string>
  readonly stop_grace_period?: string
}
interface Compose {
  readonly services?: Record<string, ComposeService>
}
interface PrometheusConfig {
  readonly scrape_configs?: ReadonlyArray<{
    readonly job_name?: string
    readonly metrics_path?: string
    readonly static_configs?: ReadonlyArray<{ readonly targets?: ReadonlyArray<string> }>
  }>
}
interface CollectorConfig {
  readonly receivers?: Record<string, { readonly protocols?: Record<string, { readonly endpoint?: string } | null> } | null>
  readonly exporters?: Record<string, { readonly endpoint?: string } | null>
  readonly service?: { readonly pipelines?: Record<string, { readonly receivers?: ReadonlyArray<string>; readonly exporters?: ReadonlyArray<string> }> }
}

// --- reading deploy/ ---

const yamlFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return yamlFiles(full)
    return /\.ya?ml$/.test(entry.name) ? [full] : []
  })

/** Parse errors of every document in `text`, as messages. */
const yamlErrors = (text: string): Array<string> => parseAllDocuments(text).flatMap((doc) => doc.errors.map((e) => e.message))

const documents = (file: string): Array<Manifest> =>
  parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null)

const readYaml = <A>(file: string): A => parse(fs.readFileSync(file, "utf8")) as A

const manifests = yamlFiles(path.join(deploy, "k8s")).flatMap(documents)
const ofKind = <A extends Manifest>(kind: string): Array<A> => manifests.filter((m) => m.kind === kind) as Array<A>

const only = <A>(items: ReadonlyArray<A>, what: string): A => {
  if (items.length !== 1 || items[0] === undefined) throw new Error(`expected exactly one ${what}, found ${items.length}`)
  return items[0]
}

const configMap = only(ofKind<ConfigMap>("ConfigMap"), "ConfigMap in deploy/k8s")
const secret = only(ofKind<Secret>("Secret"), "Secret in deploy/k8s")
const deployments = ofKind<Deployment>("Deployment")
const services = ofKind<Service>("Service")
const compose = readYaml<Compose>(path.join(deploy, "compose.yaml"))
const dockerfile = fs.readFileSync(path.join(deploy, "Dockerfile"), "utf8")

// --- helpers ---

/** Seconds in a duration as the app and Compose write them: 20s, 500ms, 5m, 2h, "20 seconds". */
const seconds = (value: string | number): number => {
  if (typeof value === "number") return value
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|millis|s|sec|seconds?|m|min|minutes?|h|hours?)?\s*$/.exec(value)
  if (match === null) throw new Error(`not a duration: ${value}`)
  const amount = Number(match[1])
  const unit = match[2] ?? "s"
  if (unit === "ms" || unit === "millis") return amount / 1000
  if (unit.startsWith("h")) return amount * 3600
  if (unit === "m" || unit.startsWith("min")) return amount * 60
  return amount
}

/** The seconds a preStop hook sleeps: `sleep: { seconds }`, or an exec of `sleep N` (directly or through a shell). */
const preStopSeconds = (container: Container): number => {
  const hook = container.lifecycle?.preStop
  if (hook === undefined) return 0
  if (hook.sleep?.seconds !== undefined) return hook.sleep.seconds
  const match = /(?:^|[\s/])sleep\s+(\d+(?:\.\d+)?)\b/.exec((hook.exec?.command ?? []).join(" "))
  if (match === null) throw new Error(`preStop of ${container.name} is neither a sleep action nor an exec of sleep`)
  return Number(match[1])
}

const envOf = (container: Container): Record<string, string> =>
  Object.fromEntries((container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value] as const])))

/** A container's setting: its own env first, then the ConfigMap it loads. */
const setting = (container: Container, data: Record<string, string>, name: string): string | undefined => envOf(container)[name] ?? data[name]

/** The container port a probe or Service port refers to, by name or number. */
const resolvePort = (container: Container, port: string | number | undefined): number | undefined => {
  if (typeof port === "number") return container.ports?.some((p) => p.containerPort === port) ? port : undefined
  return container.ports?.find((p) => p.name === port)?.containerPort
}

const mainContainer = (deployment: Deployment): Container =>
  only(deployment.spec?.template?.spec?.containers ?? [], `container in Deployment ${deployment.metadata?.name}`)

const roleOf = (deployment: Deployment): string | undefined => envOf(mainContainer(deployment))["ROLE"]

const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v)

// --- checks ---

/** What is wrong with one Deployment, given the ConfigMap data and the Secret name it should load. */
const deploymentProblems = (deployment: Deployment, data: Record<string, string>, secretName: string | undefined): Array<string> => {
  const problems: Array<string> = []
  const name = deployment.metadata?.name ?? "(unnamed)"
  const pod = deployment.spec?.template?.spec ?? {}
  const container = mainContainer(deployment)

  const port = Number(setting(container, data, "PORT"))
  if (port !== DEFAULT_PORT) problems.push(`${name}: PORT is ${port}, the app's DEFAULT_PORT is ${DEFAULT_PORT}`)
  const http = resolvePort(container, "http")
  if (http !== port) problems.push(`${name}: the container port named http is ${http}, PORT is ${port}`)

  const probes = [
    ["startupProbe", container.startupProbe, OperationPaths.liveness],
    ["livenessProbe", container.livenessProbe, OperationPaths.liveness],
    ["readinessProbe", container.readinessProbe, OperationPaths.readiness]
  ] as const
  for (const [kind, probe, expected] of probes) {
    if (probe?.httpGet === undefined) {
      problems.push(`${name}: no httpGet ${kind}`)
      continue
    }
    if (probe.httpGet.path !== expected) problems.push(`${name}: ${kind} path is ${probe.httpGet.path}, expected ${expected}`)
    const target = resolvePort(container, probe.httpGet.port)
    if (target !== port) problems.push(`${name}: ${kind} port ${probe.httpGet.port} resolves to ${target}, expected PORT ${port}`)
  }

  const grace = setting(container, data, "SHUTDOWN_GRACE")
  if (grace === undefined) problems.push(`${name}: SHUTDOWN_GRACE is not set`)
  const budget = preStopSeconds(container) + seconds(grace ?? DEFAULT_SHUTDOWN_GRACE_SECONDS) + FLUSH_MARGIN_SECONDS
  const termination = pod.terminationGracePeriodSeconds ?? 30
  if (!(termination > budget)) problems.push(`${name}: terminationGracePeriodSeconds ${termination} is not above preStop + SHUTDOWN_GRACE + ${FLUSH_MARGIN_SECONDS} = ${budget}`)

  const role = roleOf(deployment)
  if (role !== "web" && role !== "worker") problems.push(`${name}: ROLE is ${role}, expected web or worker`)

  const configMaps = (container.envFrom ?? []).flatMap((e) => (e.configMapRef?.name === undefined ? [] : [e.configMapRef.name]))
  const secrets = (container.envFrom ?? []).flatMap((e) => (e.secretRef?.name === undefined ? [] : [e.secretRef.name]))
  if (!configMaps.includes(configMap.metadata?.name ?? "")) problems.push(`${name}: envFrom does not load ConfigMap ${configMap.metadata?.name}`)
  if (secretName === undefined || !secrets.includes(secretName)) problems.push(`${name}: envFrom does not load Secret ${secretName}`)

  const podSecurity = pod.securityContext ?? {}
  const security = container.securityContext ?? {}
  if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) !== true) problems.push(`${name}: runAsNonRoot is not true`)
  if ((security.runAsUser ?? podSecurity.runAsUser) === 0) problems.push(`${name}: runAsUser is 0`)
  if (security.readOnlyRootFilesystem !== true) problems.push(`${name}: readOnlyRootFilesystem is not true`)
  if (security.allowPrivilegeEscalation !== false) problems.push(`${name}: allowPrivilegeEscalation is not false`)
  if (!(security.capabilities?.drop ?? []).includes("ALL")) problems.push(`${name}: capabilities do not drop ALL`)
  const tmp = container.volumeMounts?.find((m) => m.mountPath === "/tmp")
  if (tmp === undefined || pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir === undefined) problems.push(`${name}: /tmp is not an emptyDir`)

  const annotations = deployment.spec?.template?.metadata?.annotations ?? {}
  if (annotations["prometheus.io/scrape"] !== "true") problems.push(`${name}: prometheus.io/scrape is not "true"`)
  if (annotations["prometheus.io/path"] !== OperationPaths.metrics) problems.push(`${name}: prometheus.io/path is ${annotations["prometheus.io/path"]}, expected ${OperationPaths.metrics}`)
  if (Number(annotations["prometheus.io/port"]) !== port) problems.push(`${name}: prometheus.io/port is ${annotations["prometheus.io/port"]}, expected ${port}`)
  return problems
}

/** What is wrong with the Service in front of the web Deployment. */
const serviceProblems = (service: Service, all: ReadonlyArray<Deployment>): Array<string> => {
  const problems: Array<string> = []
  const selected = all.filter((d) => selects(service.spec?.selector ?? {}, d.spec?.template?.metadata?.labels))
  if (selected.map(roleOf).join(",") !== "web") problems.push(`Service selects roles [${selected.map(roleOf).join(", ")}], expected only web`)
  const ports = service.spec?.ports ?? []
  if (ports.length === 0) problems.push("Service has no ports")
  for (const port of ports) {
    if (typeof port.targetPort !== "string") problems.push(`Service port ${port.name} targets ${port.targetPort}, not a named port`)
    for (const deployment of selected) {
      if (resolvePort(mainContainer(deployment), port.targetPort) !== DEFAULT_PORT) problems.push(`Service port ${port.name} targetPort ${port.targetPort} does not resolve to ${DEFAULT_PORT} in ${deployment.metadata?.name}`)
    }
  }
  return problems
}

const environment = (service: ComposeService): Record<string, string> => {
  const env = service.environment ?? {}
  if (Array.isArray(env)) return Object.fromEntries(env.map((line: string) => [line.split("=")[0] ?? "", line.split("=").slice(1).join("=")]))
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? "")]))
}

/** `host:port` of a URL-ish endpoint (`http://otel-collector:4318`, `jaeger:4317`). */
const hostPort = (endpoint: string | undefined): string => (endpoint ?? "").replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "")

/** A compose volume's file on the host, relative to deploy/, for the container path `target`. */
const mountedFile = (service: ComposeService | undefined, target: string): string | undefined => {
  const volume = (service?.volumes ?? []).find((v) => v.split(":")[1] === target)
  return volume === undefined ? undefined : path.resolve(deploy, volume.split(":")[0] ?? "")
}

/** What is wrong with compose.yaml and the Prometheus and Collector configs it mounts (read through `read`). */
const composeProblems = (spec: Compose, read: (file: string) => unknown): Array<string> => {
  const problems: Array<string> = []
  const services = spec.services ?? {}
  const app = services["app"]
  if (app === undefined) return ["compose has no app service"]

  const build = typeof app.build === "string" ? { context: app.build } : (app.build ?? {})
  const context = path.resolve(deploy, build.context ?? ".")
  if (context !== repo) problems.push(`app builds from ${path.relative(repo, context) || "."}, not the repository root`)
  if (path.resolve(context, build.dockerfile ?? "Dockerfile") !== path.join(deploy, "Dockerfile")) problems.push(`app builds ${build.dockerfile}, not deploy/Dockerfile`)

  const env = environment(app)
  if (env["ROLE"] !== "all") problems.push(`app ROLE is ${env["ROLE"]}, expected all`)
  const port = Number(env["PORT"] ?? DEFAULT_PORT)
  if (port !== DEFAULT_PORT) problems.push(`app PORT is ${port}, expected ${DEFAULT_PORT}`)
  if (!(app.ports ?? []).some((p) => Number(String(p).replace(/\/\w+$/, "").split(":").at(-1)) === port)) problems.push(`app does not publish port ${port}`)

  const database = env["DATABASE_URL"] === undefined ? undefined : new URL(env["DATABASE_URL"])
  if (database?.hostname !== "postgres") problems.push(`app DATABASE_URL does not point at the postgres service`)
  const dependsOn = app.depends_on
  const postgresCondition = Array.isArray(dependsOn) ? undefined : (dependsOn as Record<string, { condition?: string }> | undefined)?.["postgres"]?.condition
  if (postgresCondition !== "service_healthy") problems.push("app does not wait for postgres to be healthy")
  if (services["postgres"]?.healthcheck?.test === undefined) problems.push("postgres has no healthcheck")
  if (!(env["ADMIN_TOKEN"] ?? "").startsWith("${ADMIN_TOKEN")) problems.push("app ADMIN_TOKEN does not come from the environment")

  const grace = seconds(env["SHUTDOWN_GRACE"] ?? DEFAULT_SHUTDOWN_GRACE_SECONDS)
  const stop = seconds(app.stop_grace_period ?? "10s")
  if (!(stop > grace + FLUSH_MARGIN_SECONDS)) problems.push(`app stop_grace_period ${stop}s is not above SHUTDOWN_GRACE + ${FLUSH_MARGIN_SECONDS} = ${grace + FLUSH_MARGIN_SECONDS}s`)

  // Prometheus scrapes the app's metrics path on its port.
  const prometheusFile = mountedFile(services["prometheus"], "/etc/prometheus/prometheus.yml")
  if (prometheusFile === undefined) problems.push("prometheus does not mount a prometheus.yml")
  else {
    const scrapes = (read(prometheusFile) as PrometheusConfig).scrape_configs ?? []
    const scrapesApp = scrapes.some(
      (s) => (s.metrics_path ?? "/metrics") === OperationPaths.metrics && (s.static_configs ?? []).some((c) => (c.targets ?? []).includes(`app:${port}`))
    )
    if (!scrapesApp) problems.push(`prometheus does not scrape app:${port}${OperationPaths.metrics}`)
  }

  // Traces: app -> collector (OTLP/HTTP) -> jaeger (OTLP).
  const collectorName = hostPort(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).split(":")[0] ?? ""
  const collectorFile = mountedFile(services[collectorName], "/etc/otelcol-contrib/config.yaml")
  if (collectorFile === undefined) problems.push(`app exports traces to ${env["OTEL_EXPORTER_OTLP_ENDPOINT"]}, not a collector service with a mounted config`)
  else {
    const collector = read(collectorFile) as CollectorConfig
    const httpPort = hostPort(collector.receivers?.["otlp"]?.protocols?.["http"]?.endpoint).split(":")[1]
    if (httpPort !== hostPort(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).split(":")[1]) problems.push(`the collector's OTLP/HTTP receiver listens on ${httpPort}, the app sends to ${env["OTEL_EXPORTER_OTLP_ENDPOINT"]}`)
    const traces = collector.service?.pipelines?.["traces"]
    const toJaeger = (traces?.exporters ?? []).some((e) => e.startsWith("otlp") && hostPort(collector.exporters?.[e]?.endpoint).split(":")[0] === "jaeger")
    if (!(traces?.receivers ?? []).includes("otlp") || !toJaeger) problems.push("the collector's traces pipeline does not take OTLP in and send it to jaeger over OTLP")
    if (services["jaeger"] === undefined) problems.push("compose has no jaeger service")
  }
  return problems
}

interface Instruction {
  readonly op: string
  readonly args: string
}

/** A Dockerfile's instructions, per stage (comments dropped, continuations joined). */
const dockerStages = (text: string): Array<Array<Instruction>> => {
  const lines = text
    .split(/\r?\n/)
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
  const stages: Array<Array<Instruction>> = []
  for (const line of lines) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line)
    if (match === null) continue
    const instruction = { op: (match[1] ?? "").toUpperCase(), args: (match[2] ?? "").trim() }
    if (instruction.op === "FROM") stages.push([])
    stages.at(-1)?.push(instruction)
  }
  return stages
}

/** The runtime stage's numeric USER, if it has one. */
const imageUid = (text: string): number | undefined => {
  const user = dockerStages(text).at(-1)?.filter((i) => i.op === "USER").at(-1)?.args.split(":")[0]
  return user !== undefined && /^\d+$/.test(user) ? Number(user) : undefined
}

/** What is wrong with the Dockerfile. */
const dockerfileProblems = (text: string): Array<string> => {
  const problems: Array<string> = []
  const stages = dockerStages(text)
  if (stages.length < 2) problems.push(`${stages.length} FROM stage(s), expected a multi-stage build`)
  const runtime = stages.at(-1) ?? []
  const all = stages.flat()

  if (!all.some((i) => i.op === "RUN" && /\bnpm run build\b/.test(i.args))) problems.push("no stage runs npm run build")
  if (!all.some((i) => i.op === "RUN" && /\bnpm (ci|prune)\b.*--omit[= ]dev/.test(i.args))) problems.push("no stage installs production dependencies only (--omit=dev)")

  const uid = imageUid(text)
  if (uid === undefined || uid === 0) problems.push(`the runtime stage's USER is not a numeric non-root uid`)

  const workdir = runtime.filter((i) => i.op === "WORKDIR").at(-1)?.args ?? "/"
  const copiedTo = runtime.filter((i) => i.op === "COPY").map((i) => path.posix.resolve(workdir, i.args.split(/\s+/).at(-1) ?? ""))
  for (const tree of ["dist", "migrations"]) {
    if (!copiedTo.includes(path.posix.join(workdir, tree))) problems.push(`the runtime stage does not copy ${tree}/ to ${path.posix.join(workdir, tree)}`)
  }
  if (!runtime.some((i) => i.op === "ENV" && /\bNODE_ENV[= ]"?production\b/.test(i.args))) problems.push("the runtime stage does not set NODE_ENV=production")
  if (!runtime.some((i) => i.op === "EXPOSE" && i.args.split(/\s+/).includes(String(DEFAULT_PORT)))) problems.push(`the runtime stage does not EXPOSE ${DEFAULT_PORT}`)

  const cmd = runtime.filter((i) => i.op === "CMD").at(-1)?.args
  let argv: unknown
  try {
    argv = cmd === undefined ? undefined : JSON.parse(cmd)
  } catch {
    argv = undefined
  }
  if (!Array.isArray(argv) || argv[0] !== "node" || argv[1] !== "dist/src/main.js") problems.push(`CMD is ${cmd}, expected ["node", "dist/src/main.js"] (exec form)`)
  if (workdir !== "/app") problems.push(`the runtime WORKDIR is ${workdir}, expected /app`)
  return problems
}

// --- mutations: a deep copy with one change ---

const mutate = <A>(value: A, change: (copy: A) => void): A => {
  const copy = structuredClone(value)
  change(copy)
  return copy
}

/** Writable view of parsed YAML, for mutations only. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any

const webDeployment = only(deployments.filter((d) => roleOf(d) === "web"), "web Deployment")
const data = configMap.data ?? {}
const secretName = secret.metadata?.name

// --- tests ---

describe("deploy/ files", () => {
  it("parses every YAML file", () => {
    const files = yamlFiles(deploy)
    expect(files.map((f) => path.relative(deploy, f)).sort()).toEqual(
      expect.arrayContaining(["compose.yaml", "otel-collector.yaml", "prometheus.yml", "k8s/configmap.yaml", "k8s/secret.example.yaml", "k8s/web.yaml", "k8s/worker.yaml"])
    )
    expect(Object.fromEntries(files.map((f) => [path.relative(deploy, f), yamlErrors(fs.readFileSync(f, "utf8"))]))).toEqual(
      Object.fromEntries(files.map((f) => [path.relative(deploy, f), []]))
    )
    expect(yamlErrors("a: [1, 2\nb: c")).not.toEqual([])
  })

  it("kustomization lists every manifest but the secret template", () => {
    const kustomization = readYaml<{ resources?: Array<string> }>(path.join(deploy, "k8s", "kustomization.yaml"))
    expect([...(kustomization.resources ?? [])].sort()).toEqual(["configmap.yaml", "prometheusrule.yaml", "web.yaml", "worker.yaml"])
  })
})

describe("ConfigMap", () => {
  it("sets the app's default port and shutdown grace", () => {
    expect(Number(data["PORT"])).toBe(DEFAULT_PORT)
    expect(seconds(data["SHUTDOWN_GRACE"] ?? "")).toBe(DEFAULT_SHUTDOWN_GRACE_SECONDS)
    expect(data["NODE_ENV"]).toBe("production")
  })

  it("gives every queue of the application's job kinds a pool, and sets what production needs for Twilio", () => {
    const queues = parseQueues(data["QUEUES"] ?? "")
    if (Either.isLeft(queues)) throw new Error(queues.left)
    const pooled = new Set(queues.right.map((q) => q.queue))
    for (const handler of handlers) expect(pooled, handler.definition.kind).toContain(handler.definition.queue)
    expect(data["PUBLIC_BASE_URL"]).toMatch(/^https:\/\//)
    expect(data["TWILIO_FROM"]).toMatch(/^\+[1-9]\d{6,14}$/)
  })

  it("reads durations the way the app writes them", () => {
    expect([seconds("20s"), seconds("500ms"), seconds("5m"), seconds("2h"), seconds("20 seconds"), seconds(7)]).toEqual([20, 0.5, 300, 7200, 20, 7])
    expect(() => seconds("soon")).toThrow()
  })
})

describe("Secret template", () => {
  it("holds only placeholders for DATABASE_URL, ADMIN_TOKEN, CODE_SECRET, METRICS_TOKEN and the Twilio credentials", () => {
    const values = secret.stringData ?? {}
    expect(Object.keys(values).sort()).toEqual(["ADMIN_TOKEN", "CODE_SECRET", "DATABASE_URL", "METRICS_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
    for (const value of Object.values(values)) expect(value).toMatch(/REPLACE_ME/)
  })
})

describe("Deployments", () => {
  it("are one web and one worker", () => {
    expect(deployments.map(roleOf).sort()).toEqual(["web", "worker"])
  })

  it.each(deployments.map((d) => [d.metadata?.name ?? "", d] as const))("%s: probes, grace, role, security and scraping", (_name, deployment) => {
    expect(deploymentProblems(deployment, data, secretName)).toEqual([])
  })

  it("run as the image's user", () => {
    const uid = imageUid(dockerfile)
    expect(uid).toBeGreaterThan(0)
    const runAs = deployments.map((d) => [d.metadata?.name, mainContainer(d).securityContext?.runAsUser ?? d.spec?.template?.spec?.securityContext?.runAsUser ?? uid])
    expect(runAs).toEqual(deployments.map((d) => [d.metadata?.name, uid]))
  })

  const broken: ReadonlyArray<readonly [string, (d: Loose) => void, RegExp]> = [
    ["readiness probe on /livez", (d) => (d.spec.template.spec.containers[0].readinessProbe.httpGet.path = "/livez"), /readinessProbe path/],
    ["liveness probe on /readyz", (d) => (d.spec.template.spec.containers[0].livenessProbe.httpGet.path = OperationPaths.readiness), /livenessProbe path/],
    ["startup probe on /healthz", (d) => (d.spec.template.spec.containers[0].startupProbe.httpGet.path = OperationPaths.health), /startupProbe path/],
    ["probe on an unknown port name", (d) => (d.spec.template.spec.containers[0].livenessProbe.httpGet.port = "metrics"), /livenessProbe port/],
    ["probe on another number", (d) => (d.spec.template.spec.containers[0].readinessProbe.httpGet.port = 9090), /readinessProbe port/],
    ["container port moved", (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = 9090), /port named http is 9090/],
    ["no readiness probe", (d) => delete d.spec.template.spec.containers[0].readinessProbe, /no httpGet readinessProbe/],
    ["termination grace too short", (d) => (d.spec.template.spec.terminationGracePeriodSeconds = 35), /terminationGracePeriodSeconds 35/],
    ["default termination grace", (d) => delete d.spec.template.spec.terminationGracePeriodSeconds, /terminationGracePeriodSeconds 30/],
    ["longer preStop sleep", (d) => (d.spec.template.spec.containers[0].lifecycle.preStop.exec.command = ["sleep", "15"]), /terminationGracePeriodSeconds/],
    ["longer SHUTDOWN_GRACE in env", (d) => d.spec.template.spec.containers[0].env.push({ name: "SHUTDOWN_GRACE", value: "1m" }), /terminationGracePeriodSeconds/],
    ["PORT overridden", (d) => d.spec.template.spec.containers[0].env.push({ name: "PORT", value: "9090" }), /PORT is 9090/],
    ["no ROLE", (d) => (d.spec.template.spec.containers[0].env = []), /ROLE is undefined/],
    ["ROLE=all", (d) => (d.spec.template.spec.containers[0].env[0].value = "all"), /ROLE is all/],
    ["no Secret", (d) => (d.spec.template.spec.containers[0].envFrom = [d.spec.template.spec.containers[0].envFrom[0]]), /Secret/],
    ["root allowed", (d) => { d.spec.template.spec.securityContext.runAsNonRoot = false; d.spec.template.spec.containers[0].securityContext.runAsNonRoot = false }, /runAsNonRoot/],
    ["uid 0", (d) => (d.spec.template.spec.securityContext.runAsUser = 0), /runAsUser is 0/],
    ["writable root filesystem", (d) => (d.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false), /readOnlyRootFilesystem/],
    ["privilege escalation", (d) => delete d.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation, /allowPrivilegeEscalation/],
    ["capabilities kept", (d) => (d.spec.template.spec.containers[0].securityContext.capabilities.drop = []), /drop ALL/],
    ["no /tmp volume", (d) => (d.spec.template.spec.volumes = []), /\/tmp/],
    ["scraped on another path", (d) => (d.spec.template.metadata.annotations["prometheus.io/path"] = "/stats"), /prometheus.io\/path/],
    ["scraped on another port", (d) => (d.spec.template.metadata.annotations["prometheus.io/port"] = "9090"), /prometheus.io\/port/]
  ]

  it.each(broken)("catch %s", (_name, change, expected) => {
    const problems = deploymentProblems(mutate(webDeployment, change), data, secretName)
    expect(problems.join("\n")).toMatch(expected)
  })

  it("catch a ConfigMap whose PORT or SHUTDOWN_GRACE moved", () => {
    expect(deploymentProblems(webDeployment, { ...data, PORT: "9090" }, secretName).join("\n")).toMatch(/PORT is 9090/)
    expect(deploymentProblems(webDeployment, { ...data, SHUTDOWN_GRACE: "40s" }, secretName).join("\n")).toMatch(/terminationGracePeriodSeconds 55 is not above/)
    expect(deploymentProblems(webDeployment, { ...data, SHUTDOWN_GRACE: undefined as unknown as string }, secretName).join("\n")).toMatch(/SHUTDOWN_GRACE is not set/)
  })

  it("read preStop sleeps in every form", () => {
    expect(preStopSeconds({ lifecycle: { preStop: { sleep: { seconds: 7 } } } })).toBe(7)
    expect(preStopSeconds({ lifecycle: { preStop: { exec: { command: ["/bin/sh", "-c", "sleep 9"] } } } })).toBe(9)
    expect(preStopSeconds({})).toBe(0)
    expect(() => preStopSeconds({ lifecycle: { preStop: { exec: { command: ["true"] } } } })).toThrow()
  })
})

describe("Service", () => {
  const service = only(services, "Service")

  it("sends port 80 to the web pods' named http port", () => {
    expect(serviceProblems(service, deployments)).toEqual([])
    expect(service.spec?.ports?.map((p) => p.port)).toEqual([80])
  })

  it("catches a numeric, wrong or unselected target", () => {
    expect(serviceProblems(mutate(service, (s: Loose) => (s.spec.ports[0].targetPort = DEFAULT_PORT)), deployments).join("\n")).toMatch(/not a named port/)
    expect(serviceProblems(mutate(service, (s: Loose) => (s.spec.ports[0].targetPort = "metrics")), deployments).join("\n")).toMatch(/does not resolve/)
    expect(serviceProblems(mutate(service, (s: Loose) => (s.spec.selector["app.kubernetes.io/component"] = "worker")), deployments).join("\n")).toMatch(/selects roles \[worker\]/)
    expect(serviceProblems(mutate(service, (s: Loose) => delete s.spec.selector["app.kubernetes.io/component"]), deployments).join("\n")).toMatch(/expected only web/)
  })
})

describe("compose", () => {
  const read = (file: string): unknown => readYaml(file)

  it("builds deploy/Dockerfile, wires postgres, traces and metrics", () => {
    expect(composeProblems(compose, read)).toEqual([])
  })

  /** `read`, with `change` applied to the parsed `name` file. */
  const readChanged = (name: string, change: (doc: Loose) => void) => (file: string): unknown => (path.basename(file) === name ? mutate(read(file), change) : read(file))

  const broken: ReadonlyArray<readonly [string, (c: Loose) => void, (file: string) => unknown, RegExp]> = [
    ["another Dockerfile", (c) => (c.services.app.build.dockerfile = "Dockerfile"), read, /not deploy\/Dockerfile/],
    ["the deploy/ folder as context", (c) => (c.services.app.build.context = "."), read, /not the repository root/],
    ["ROLE=web", (c) => (c.services.app.environment.ROLE = "web"), read, /ROLE is web/],
    ["no published port", (c) => (c.services.app.ports = ["9090:9090"]), read, /does not publish/],
    ["a database elsewhere", (c) => (c.services.app.environment.DATABASE_URL = "postgres://u:p@localhost:5432/db"), read, /DATABASE_URL/],
    ["not waiting for postgres", (c) => (c.services.app.depends_on.postgres.condition = "service_started"), read, /healthy/],
    ["no postgres healthcheck", (c) => delete c.services.postgres.healthcheck, read, /no healthcheck/],
    ["a hard-coded admin token", (c) => (c.services.app.environment.ADMIN_TOKEN = "secret"), read, /ADMIN_TOKEN/],
    ["a short stop grace", (c) => (c.services.app.stop_grace_period = "10s"), read, /stop_grace_period/],
    ["prometheus on another port", () => {}, readChanged("prometheus.yml", (p) => (p.scrape_configs[0].static_configs[0].targets = ["app:9090"])), /does not scrape/],
    ["prometheus on another path", () => {}, readChanged("prometheus.yml", (p) => (p.scrape_configs[0].metrics_path = "/stats")), /does not scrape/],
    ["traces to nowhere", (c) => (c.services.app.environment.OTEL_EXPORTER_OTLP_ENDPOINT = "http://tempo:4318"), read, /not a collector/],
    ["collector on another port", () => {}, readChanged("otel-collector.yaml", (o) => (o.receivers.otlp.protocols.http.endpoint = "0.0.0.0:4319")), /listens on 4319/],
    ["collector exporting elsewhere", () => {}, readChanged("otel-collector.yaml", (o) => (o.exporters["otlp/jaeger"].endpoint = "tempo:4317")), /jaeger over OTLP/]
  ]

  it.each(broken)("catches %s", (_name, change, reader, expected) => {
    expect(composeProblems(mutate(compose, change), reader).join("\n")).toMatch(expected)
  })
})

describe("Dockerfile", () => {
  it("builds in stages and runs dist/src/main.js as a non-root user", () => {
    expect(dockerfileProblems(dockerfile)).toEqual([])
  })

  const broken: ReadonlyArray<readonly [string, (text: string) => string, RegExp]> = [
    ["a single stage", (t) => t.replace(/^FROM .*\n[\s\S]*?(?=^FROM .* AS runtime$)/m, ""), /FROM stage/],
    ["no USER", (t) => t.replace(/^USER .*$/m, ""), /USER/],
    ["USER root", (t) => t.replace(/^USER .*$/m, "USER root"), /USER/],
    ["USER 0", (t) => t.replace(/^USER .*$/m, "USER 0:0"), /USER/],
    ["another entry point", (t) => t.replace(/^CMD .*$/m, 'CMD ["node", "dist/src/cli.js"]'), /CMD/],
    ["a shell-form CMD", (t) => t.replace(/^CMD .*$/m, "CMD node dist/src/main.js"), /CMD/],
    ["no migrations", (t) => t.replace(/^COPY migrations .*$/m, ""), /migrations\//],
    ["dist elsewhere", (t) => t.replace(/^(COPY --from=build \S+) .*$/m, "$1 /srv/dist"), /dist\//],
    ["no NODE_ENV", (t) => t.replace(/NODE_ENV=production/, "NODE_ENV=development"), /NODE_ENV/],
    ["no EXPOSE", (t) => t.replace(/^EXPOSE .*$/m, ""), /EXPOSE/],
    ["dev dependencies shipped", (t) => t.replace(/--omit=dev/g, ""), /--omit=dev/]
  ]

  it.each(broken)("catches %s", (_name, change, expected) => {
    const changed = change(dockerfile)
    expect(changed).not.toBe(dockerfile)
    expect(dockerfileProblems(changed).join("\n")).toMatch(expected)
  })

  it(".dockerignore keeps local installs, builds, data and git out of the context", () => {
    const ignored = fs.readFileSync(path.join(repo, ".dockerignore"), "utf8").split(/\r?\n/).map((l) => l.trim())
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", ".switchboard", ".git", "coverage", "bench/results", ".env"]))
  })
})
