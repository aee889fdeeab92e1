/** The address a request came from, as rate limits, audit rows and sessions record it. */
import type { Context as HonoContext } from "hono"
import * as Effect from "effect/Effect"
import { CallbackConfig } from "../../infra/callbacks/CallbackConfig.ts"
import { remoteAddress } from "../../infra/http/Listener.ts"
import type { HttpEnv } from "./Handler.ts"

/** The client's address: the socket's, or with TRUST_PROXY hops, the one that many hops back in X-Forwarded-For. */
export const clientIp = (c: HonoContext<HttpEnv>, trustProxy: number): string => {
  const socket = remoteAddress(c.env) ?? "unknown"
  if (trustProxy === 0) return socket
  const forwarded = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const hops = [...forwarded, socket]
  return hops[Math.max(0, hops.length - 1 - trustProxy)] ?? socket
}

/** The client's address under this deployment's TRUST_PROXY. */
export const clientOf = (c: HonoContext<HttpEnv>): Effect.Effect<string, never, CallbackConfig> => Effect.map(CallbackConfig, (settings) => clientIp(c, settings.trustProxy))
