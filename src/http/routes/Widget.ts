/**
 * The callback widget's script and the development demo page (docs/widget.md).
 *
 * `/widget.js` is cached for 5 minutes and `/widget/v1.<hash>.js` for a year
 * (immutable); both carry the content hash as ETag (304 on a match) and the
 * versioned URL in `Content-Location`, are gzipped for clients that accept
 * it, and may be loaded from any page (`Access-Control-Allow-Origin: *` and
 * `Cross-Origin-Resource-Policy: cross-origin`, so `integrity` and
 * cross-origin-isolated pages work). The API calls the widget makes are
 * judged by the business's allowed origins (Access.ts), not here.
 *
 * `/demo`, its script and the simulator's texts answer 404 in production.
 */
import type { Context as HonoContext } from "hono"
import { Hono } from "hono"
import * as Effect from "effect/Effect"
import { TwilioGateway } from "../../../infra/twilio/TwilioGateway.ts"
import { demoPage, demoScript, demoTexts, SimulatorTexts, widgetScript, widgetVersion } from "../contract/Widget.ts"
import type { HttpEnv } from "../Handler.ts"
import { NotFound, Unavailable } from "../Problems.ts"
import { implement, reply } from "../Validate.ts"
import { type WidgetBundle, widgetBundle } from "../widget/Bundle.ts"
import { demoKeeper } from "../widget/DemoBusiness.ts"
import { DEMO_JS, demoPage as demoHtml, demoStyleHash } from "../widget/DemoPage.ts"

export const SHORT_CACHE = "public, max-age=300"
export const IMMUTABLE_CACHE = "public, max-age=31536000, immutable"

/** Whether `If-None-Match` names the bundle (weak or strong, either encoding's tag, or `*`). */
const matches = (ifNoneMatch: string | undefined, bundle: WidgetBundle): boolean =>
  ifNoneMatch !== undefined &&
  ifNoneMatch.split(",").some((tag) => {
    const bare = tag.trim().replace(/^W\//, "")
    return bare === "*" || bare === bundle.etag || bare === `"${bundle.hash}-gzip"`
  })

const serveScript = (c: HonoContext<HttpEnv>, bundle: WidgetBundle, cacheControl: string): Response => {
  const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "")
  const headers: Record<string, string> = {
    ETag: gzip ? `"${bundle.hash}-gzip"` : bundle.etag,
    "Cache-Control": cacheControl,
    "Content-Location": `/widget/${bundle.file}`,
    Vary: "Accept-Encoding",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff"
  }
  if (matches(c.req.header("if-none-match"), bundle)) return new Response(null, { status: 304, headers })
  headers["Content-Type"] = "text/javascript; charset=utf-8"
  if (!gzip) return new Response(bundle.source, { status: 200, headers })
  return new Response(bundle.gzip, { status: 200, headers: { ...headers, "Content-Encoding": "gzip", "Content-Length": String(bundle.gzip.byteLength) } })
}

const DEMO_CSP = `default-src 'none'; script-src 'self'; style-src '${demoStyleHash}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

export interface WidgetRoutesOptions {
  /** With NODE_ENV=production: no demo page. */
  readonly production: boolean
  readonly bundle?: WidgetBundle
}

export const widgetRoutes = ({ production, bundle = widgetBundle }: WidgetRoutesOptions) => {
  const router = new Hono<HttpEnv>()
  const demo = demoKeeper()
  const developmentOnly = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | NotFound, R> =>
    production ? Effect.fail(new NotFound({ detail: "the demo page is served only in development (NODE_ENV is production)" })) : effect

  implement(router, widgetScript, (_, c) => Effect.succeed(serveScript(c, bundle, SHORT_CACHE)))

  implement(router, widgetVersion, ({ params }, c) =>
    params.file === bundle.file
      ? Effect.succeed(serveScript(c, bundle, IMMUTABLE_CACHE))
      : Effect.fail(new NotFound({ detail: `this server has widget ${bundle.file}, not ${params.file}: load /widget.js for the current one` }))
  )

  implement(router, demoPage, (_, c) =>
    developmentOnly(
      Effect.map(demo(new URL(c.req.url).origin), ({ key }) =>
        c.html(demoHtml(key, new URL(c.req.url).origin), 200, {
          "Content-Security-Policy": DEMO_CSP,
          "X-Content-Type-Options": "nosniff",
          "Referrer-Policy": "no-referrer",
          "Cache-Control": "no-store"
        })
      )
    )
  )

  implement(router, demoScript, () =>
    developmentOnly(
      Effect.succeed(new Response(DEMO_JS, { status: 200, headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" } }))
    )
  )

  implement(router, demoTexts, () =>
    developmentOnly(
      Effect.gen(function* () {
        const { simulatorUrl } = yield* TwilioGateway
        if (simulatorUrl === undefined) return yield* reply(SimulatorTexts, { simulator: false, items: [] })
        const texts = yield* Effect.tryPromise({
          try: () => fetch(`${simulatorUrl}/sim/messages`).then((r) => r.json() as Promise<ReadonlyArray<{ to: string; body: string; createdAt: string }>>),
          catch: () => new Unavailable({ detail: `the Twilio simulator at ${simulatorUrl} did not answer` })
        })
        const items = texts.slice(0, 8).map(({ to, body, createdAt }) => ({ to, body, createdAt }))
        return yield* reply(SimulatorTexts, { simulator: true, items }, 200, { "Cache-Control": "no-store" })
      })
    )
  )

  return router
}
