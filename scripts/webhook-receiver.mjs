/**
 * A local receiver of Switchboard's outbound webhooks, for trying them out
 * (README "Try a callback") and for debugging an integration: it verifies
 * each delivery's signature with the `standardwebhooks` package, as a
 * receiver in production would, prints one line per event, and answers 204
 * (or 400 for a bad signature, which Switchboard retries).
 *
 *   node scripts/webhook-receiver.mjs --secret whsec_... [--port 9000] [--fail 2]
 *
 * `--fail n` answers 503 to the first n deliveries, to watch the retries.
 * Deliveries seen twice (same webhook-id) are marked as duplicates.
 */
import { createServer } from "node:http"
import { parseArgs } from "node:util"
import { Webhook } from "standardwebhooks"

const { values } = parseArgs({
  options: {
    secret: { type: "string" },
    port: { type: "string", default: "9000" },
    fail: { type: "string", default: "0" }
  }
})
if (values.secret === undefined || !values.secret.startsWith("whsec_")) {
  console.error("usage: node scripts/webhook-receiver.mjs --secret whsec_... [--port 9000] [--fail n]")
  process.exit(2)
}
const webhook = new Webhook(values.secret)
let toFail = Number(values.fail)
const seen = new Set()

const server = createServer((request, response) => {
  const chunks = []
  request.on("data", (chunk) => chunks.push(chunk))
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8")
    const id = request.headers["webhook-id"]
    if (toFail > 0) {
      toFail--
      console.log(`${new Date().toISOString()}  ${id}  answered 503 on purpose (${toFail} more to fail)`)
      response.writeHead(503).end()
      return
    }
    let payload
    try {
      payload = webhook.verify(body, request.headers)
    } catch (error) {
      console.log(`${new Date().toISOString()}  ${id}  REFUSED: ${error instanceof Error ? error.message : String(error)}`)
      response.writeHead(400).end()
      return
    }
    const event = payload.data ?? payload
    const duplicate = seen.has(id) ? "  (duplicate)" : ""
    seen.add(id)
    console.log(`${new Date().toISOString()}  signature ok  ${payload.type ?? event.type}  seq ${event.seq ?? "-"}  status ${event.status ?? "-"}  request ${event.callbackId ?? "-"}${duplicate}`)
    response.writeHead(204).end()
  })
})
server.listen(Number(values.port), "127.0.0.1", () => console.log(`receiving webhooks on http://127.0.0.1:${values.port}/ (Ctrl-C to stop)`))
