/** Where the HTTP server listens and the paths that probes and scrapers use. */
import * as Config from "effect/Config"

export const DEFAULT_PORT = 8080

/** Paths the platform (Kubernetes probes, Prometheus) relies on; deploy/ manifests are tested against these. */
export const OperationPaths = {
  liveness: "/livez",
  readiness: "/readyz",
  health: "/healthz",
  metrics: "/metrics",
  openapi: "/openapi.json"
} as const

export const ServerConfig = Config.all({
  port: Config.integer("PORT").pipe(
    Config.validate({ message: "PORT must be an integer from 0 to 65535 (0: any free port)", validation: (n) => n >= 0 && n <= 65_535 }),
    Config.withDefault(DEFAULT_PORT),
    Config.withDescription("HTTP port (0: any free port, logged at start)")
  ),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"), Config.withDescription("HTTP bind address"))
})
