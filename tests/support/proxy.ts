/**
 * A TCP proxy in front of PostgreSQL that can go silent: while frozen it keeps
 * every connection open but forwards nothing, the way a dead NAT entry or a
 * partition looks to a client (no error, no FIN, just nothing). It can also
 * cut: drop everything and refuse connections, as a stopped database does.
 */
import * as net from "node:net"

export interface FreezableProxy {
  readonly url: string
  readonly freeze: () => void
  /** Drops every connection and refuses new ones, like a database that went down, until `restore`. */
  readonly cut: () => void
  readonly restore: () => void
  readonly connections: () => number
  readonly close: () => Promise<void>
}

export const startProxy = async (targetUrl: string): Promise<FreezableProxy> => {
  const target = new URL(targetUrl)
  const sockets = new Set<net.Socket>() // forwarding
  const everything = new Set<net.Socket>() // destroyed on close, frozen ones included
  let opened = 0
  let down = false
  const server = net.createServer((client) => {
    if (down) {
      client.destroy()
      return
    }
    opened++
    const upstream = net.connect(Number(target.port), target.hostname)
    sockets.add(client).add(upstream)
    everything.add(client).add(upstream)
    const pipe = (from: net.Socket, to: net.Socket) =>
      from.on("data", (chunk) => {
        to.write(chunk)
      })
    pipe(client, upstream)
    pipe(upstream, client)
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("error", close).on("close", close)
    upstream.on("error", close).on("close", close)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address() as net.AddressInfo
  const url = new URL(targetUrl)
  url.hostname = "127.0.0.1"
  url.port = String(address.port)
  url.searchParams.delete("host") // a Unix socket path would bypass the proxy
  return {
    url: url.toString(),
    /** Stops forwarding on the connections open now; new connections work. */
    freeze: () => {
      const stuck = [...sockets]
      sockets.clear()
      for (const socket of stuck) {
        socket.removeAllListeners("data")
        socket.pause()
      }
    },
    cut: () => {
      down = true
      for (const socket of everything) socket.destroy()
      everything.clear()
      sockets.clear()
    },
    restore: () => {
      down = false
    },
    connections: () => opened,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of everything) socket.destroy()
        server.close(() => resolve())
      })
  }
}
