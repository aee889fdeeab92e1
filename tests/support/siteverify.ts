/**
 * A local stand-in for the bot-check providers' siteverify endpoints
 * (Cloudflare Turnstile and hCaptcha answer the same way), started by the
 * tests the way the Twilio simulator stands in for Twilio.
 *
 * It takes the form-encoded POST both providers take (`secret`, `response`,
 * `remoteip`, and `sitekey` from hCaptcha's callers) and answers
 * `{ success, "error-codes", hostname, challenge_ts }`. A token is good only
 * if the double issued it (`issue`), only once (a second use is
 * `timeout-or-duplicate`, as with the real services) and only with the secret
 * the double was started with (else `invalid-input-secret`). `failWith` makes
 * it answer an HTTP error or never answer, to test an unavailable provider.
 * Every request is kept in `requests`, so a test can show what was (or was
 * not) asked.
 */
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface SiteverifyRequest {
  readonly secret: string | undefined
  readonly response: string | undefined
  readonly remoteip: string | undefined
  readonly sitekey: string | undefined
}

export type SiteverifyFailure = { readonly status: number } | "hang" | undefined

export interface Siteverify {
  /** The endpoint: give it as BOT_CHECK_TURNSTILE_URL or BOT_CHECK_HCAPTCHA_URL. */
  readonly url: string
  /** The secret the double accepts. */
  readonly secret: string
  /** A fresh token, good once; `hostname` is what the answer says the challenge was solved on. */
  issue(hostname?: string): string
  /** What was asked, oldest first. */
  readonly requests: ReadonlyArray<SiteverifyRequest>
  /** From now on, answer every request with this HTTP status, or never answer; `undefined` restores normal answers. */
  failWith(failure: SiteverifyFailure): void
  close(): Promise<void>
}

export const startSiteverify = async (secret = `test-secret-${randomBytes(6).toString("hex")}`): Promise<Siteverify> => {
  const tokens = new Map<string, { readonly hostname: string; used: boolean }>()
  const requests: Array<SiteverifyRequest> = []
  let failure: SiteverifyFailure = undefined
  const hanging = new Set<http.ServerResponse>()

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"))
      const asked: SiteverifyRequest = {
        secret: form.get("secret") ?? undefined,
        response: form.get("response") ?? undefined,
        remoteip: form.get("remoteip") ?? undefined,
        sitekey: form.get("sitekey") ?? undefined
      }
      requests.push(asked)
      if (failure === "hang") {
        hanging.add(res)
        return
      }
      if (failure !== undefined) {
        res.writeHead(failure.status, { "content-type": "text/plain" }).end("unavailable")
        return
      }
      const answer = (success: boolean, codes: ReadonlyArray<string>, hostname?: string) =>
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ success, "error-codes": codes, ...(hostname === undefined ? {} : { hostname, challenge_ts: new Date().toISOString() }) }))
      if (req.method !== "POST" || !(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) return answer(false, ["bad-request"])
      if (asked.secret === undefined) return answer(false, ["missing-input-secret"])
      if (asked.secret !== secret) return answer(false, ["invalid-input-secret"])
      if (asked.response === undefined || asked.response === "") return answer(false, ["missing-input-response"])
      const token = tokens.get(asked.response)
      if (token === undefined) return answer(false, ["invalid-input-response"])
      if (token.used) return answer(false, ["timeout-or-duplicate"])
      token.used = true
      return answer(true, [], token.hostname)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    secret,
    issue: (hostname = "localhost") => {
      const token = `tok_${randomBytes(24).toString("base64url")}`
      tokens.set(token, { hostname, used: false })
      return token
    },
    requests,
    failWith: (next) => {
      failure = next
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
