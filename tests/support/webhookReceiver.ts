/**
 * A stand-in for the app's webhook endpoints, for simulator tests: it records
 * every request Twilio (the simulator) makes to it, answers `/voice-broken...`
 * with a document that is not well-formed, `/voice...` with a little TwiML and
 * anything else with 204.
 */
import { createServer, type IncomingHttpHeaders } from "node:http"

export interface ReceivedWebhook {
  /** The path and query it was sent to. */
  readonly path: string
  /** The form parameters of its body. */
  readonly params: Record<string, string>
  readonly headers: IncomingHttpHeaders
}

export const startWebhookReceiver = async () => {
  const received: Array<ReceivedWebhook> = []
  const server = createServer((request, response) => {
    let body = ""
    request.on("data", (chunk: Buffer) => (body += chunk.toString()))
    request.on("end", () => {
      received.push({ path: request.url ?? "", params: Object.fromEntries(new URLSearchParams(body)), headers: request.headers })
      if (request.url?.startsWith("/voice-broken")) response.writeHead(200, { "content-type": "text/xml" }).end("<Response><Say>Tom & Jerry</Say></Response>")
      else if (request.url?.startsWith("/voice")) response.writeHead(200, { "content-type": "text/xml" }).end("<Response><Say>hello</Say></Response>")
      else response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  return {
    /** Its base URL: webhook URLs are this plus a path. */
    base: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
    /** What it received, oldest first; empty it between tests with `received.length = 0`. */
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections() // a test's receiver owes no request an answer; Deno's node:http would wait for keep-alive connections
      })
  }
}
