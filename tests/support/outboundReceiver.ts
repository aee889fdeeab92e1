/**
 * A receiver of Switchboard's outbound webhooks for tests: it records every
 * request (raw body and headers, in arrival order) and answers as `behave`
 * says: a status and body, after a delay, or never (the connection is held
 * open until the receiver closes). And the app's handlers with a fast
 * delivery retry policy.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { WebhookDeliver } from "../../domain/callbacks/Jobs.ts"
import { backoff } from "../../domain/jobs/RetryPolicy.ts"
import { deliveryHandler } from "../../src/callbacks/OutboundWebhooks.ts"
import { handlers } from "../../src/jobs/index.ts"

/** The application's job kinds with the webhook delivery retried after tens of milliseconds instead of seconds to hours. */
export const fastDeliveryHandlers = handlers.map((h) =>
  h.definition.kind === WebhookDeliver.kind ? deliveryHandler({ ...WebhookDeliver, backoff: backoff("20 millis", "100 millis") }) : h
)

export interface ReceivedDelivery {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly at: number
}

export interface Answer {
  readonly status?: number
  readonly body?: string
  readonly delayMs?: number
  /** Never answer (the request hangs until its sender gives up or the receiver closes). */
  readonly hang?: boolean
}

/** `n` is the request's 1-based number in arrival order. */
export type Behaviour = (delivery: ReceivedDelivery, n: number) => Answer

export const startOutboundReceiver = async (initial: Behaviour = () => ({ status: 204 })) => {
  const received: Array<ReceivedDelivery> = []
  const hanging = new Set<ServerResponse>()
  let behave = initial
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const delivery = { path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() }
      received.push(delivery)
      const answer = behave(delivery, received.length)
      if (answer.hang === true) {
        hanging.add(response)
        return
      }
      const send = () => response.writeHead(answer.status ?? 204, { "content-type": "text/plain" }).end(answer.body ?? "")
      if (answer.delayMs === undefined) send()
      else setTimeout(send, answer.delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    /** Its base URL: endpoint URLs are this plus a path. */
    base: `http://127.0.0.1:${port}`,
    received,
    /** Changes how it answers from now on. */
    behave: (next: Behaviour) => {
      behave = next
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

export type OutboundReceiver = Awaited<ReturnType<typeof startOutboundReceiver>>
