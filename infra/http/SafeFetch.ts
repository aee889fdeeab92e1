/**
 * Outbound HTTP to addresses that customers choose (webhook endpoints), made
 * safe for the network it runs in.
 *
 * - SSRF: unless private destinations are allowed, a host is resolved first
 *   (every address, `dns.lookup` with `all`), each address is classified, and
 *   any one that is not a public unicast address refuses the request: loopback,
 *   RFC 1918 and unique-local (fc00::/7), link-local (169.254/16, fe80::/10),
 *   unspecified, CGNAT (100.64/10), multicast, reserved and documentation
 *   ranges, and the IPv4-mapped, NAT64 and 6to4 forms of those. The connection
 *   then goes to the address that was checked (a `lookup` that returns it), so
 *   a second DNS answer cannot swap it (no rebinding window); the Host header
 *   and the TLS server name stay the URL's.
 * - Bounds: one deadline covers DNS, connect, sending and the response's status
 *   and excerpt; the request body is bounded; at most `excerptBytes` of the
 *   response are read and the connection is then dropped; redirects are
 *   answers like any other (never followed); no connection is reused.
 */
import * as dns from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import { isIPv4, isIPv6 } from "node:net"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** What an address is, for deciding whether a customer's URL may reach it. */
export type AddressClass = "public" | "loopback" | "private" | "link-local" | "unspecified" | "cgnat" | "multicast" | "reserved" | "invalid"

const ipv4Octets = (text: string): ReadonlyArray<number> | undefined => (isIPv4(text) ? text.split(".").map(Number) : undefined)

const classifyIPv4 = (o: ReadonlyArray<number>): AddressClass => {
  const [a = 0, b = 0, c = 0] = o
  if (a === 0) return "unspecified"
  if (a === 127) return "loopback"
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private"
  if (a === 169 && b === 254) return "link-local"
  if (a === 100 && b >= 64 && b <= 127) return "cgnat"
  if (a >= 224 && a <= 239) return "multicast"
  if (a >= 240) return "reserved" // includes 255.255.255.255
  if ((a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && (b === 18 || b === 19)) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) {
    return "reserved" // IETF assignments, documentation, benchmarking
  }
  return "public"
}

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail included); none when it is not one. */
export const ipv6Groups = (text: string): ReadonlyArray<number> | undefined => {
  const bare = text.replace(/%.*$/, "")
  if (!isIPv6(bare)) return undefined
  // a dotted IPv4 tail is the last two groups
  const hex = bare.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`
  )
  const [left = "", right, ...more] = hex.split("::")
  if (more.length > 0) return undefined
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)))
  const l = parse(left)
  const r = right === undefined ? [] : parse(right)
  const groups = right === undefined ? l : [...l, ...Array<number>(Math.max(0, 8 - l.length - r.length)).fill(0), ...r]
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined
}

const embeddedIPv4 = (hi: number, lo: number): ReadonlyArray<number> => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]

const classifyIPv6 = (g: ReadonlyArray<number>): AddressClass => {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  if (zeroTo(8)) return "unspecified"
  if (zeroTo(7) && g7 === 1) return "loopback"
  if (zeroTo(5) && g5 === 0xffff) return classifyIPv4(embeddedIPv4(g6, g7)) // IPv4-mapped ::ffff:a.b.c.d
  if (zeroTo(6)) return classifyIPv4(embeddedIPv4(g6, g7)) // IPv4-compatible ::a.b.c.d (deprecated)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyIPv4(embeddedIPv4(g6, g7)) // NAT64
  if (g0 === 0x64 && g1 === 0xff9b) return "reserved" // local-use NAT64 (64:ff9b:1::/48)
  if (g0 === 0x2002) return classifyIPv4(embeddedIPv4(g1, g2)) // 6to4
  if ((g0 & 0xfe00) === 0xfc00) return "private" // unique local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return "link-local"
  if ((g0 & 0xffc0) === 0xfec0) return "private" // site-local (deprecated)
  if ((g0 & 0xff00) === 0xff00) return "multicast"
  if (g0 === 0x2001 && (g1 === 0 || g1 === 0xdb8)) return "reserved" // Teredo, documentation
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return "reserved" // discard-only
  return "public"
}

/** What `address` (an IPv4 or IPv6 literal, brackets allowed) is. */
export const classifyAddress = (address: string): AddressClass => {
  const text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address
  const v4 = ipv4Octets(text)
  if (v4 !== undefined) return classifyIPv4(v4)
  const v6 = ipv6Groups(text)
  return v6 === undefined ? "invalid" : classifyIPv6(v6)
}

/** Whether a customer's URL may reach `address` when private destinations are refused. */
export const isPublicAddress = (address: string): boolean => classifyAddress(address) === "public"

/** The host of `url` when it is an IP literal (without brackets); none for a name. */
export const literalHost = (url: URL): string | undefined => {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  return isIPv4(host) || isIPv6(host) ? host : undefined
}

/** Why `url`'s host may not be used as given (an IP literal that is not public); none when it may, as far as the URL tells. */
export const literalRefusal = (url: URL): string | undefined => {
  const host = literalHost(url)
  if (host === undefined) return undefined
  const kind = classifyAddress(host)
  return kind === "public" ? undefined : `${host} is a ${kind} address; webhooks go to public addresses only`
}

/** The destination is not allowed: a permanent refusal, nothing was sent. */
export class DestinationRefused extends Data.TaggedError("DestinationRefused")<{ readonly message: string }> {}

/** No answer: DNS, connection, TLS, a reset, or the deadline. */
export class RequestFailed extends Data.TaggedError("RequestFailed")<{ readonly message: string }> {}

export interface SafePost {
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string
  readonly timeout: Duration.Duration
  /** Loopback, private and other non-public destinations are allowed (development). */
  readonly allowPrivate: boolean
  /** Bytes of the response body kept (the rest is not read). */
  readonly excerptBytes?: number
  /** Bytes the request body may have. */
  readonly maxBodyBytes?: number
}

export interface SafeResponse {
  readonly status: number
  /** The start of the body, decoded as UTF-8, at most `excerptBytes` bytes. */
  readonly excerpt: string
}

const DEFAULT_EXCERPT = 1024
const DEFAULT_MAX_BODY = 256 * 1024

interface Resolved {
  readonly address: string
  readonly family: number
}

/** The address to connect to: the literal itself, or the first of all the host's addresses once every one passed. */
const resolve = (url: URL, allowPrivate: boolean): Effect.Effect<Resolved | undefined, DestinationRefused | RequestFailed> => {
  const literal = literalHost(url)
  if (literal !== undefined) {
    const refusal = allowPrivate ? undefined : literalRefusal(url)
    return refusal === undefined ? Effect.succeed(undefined) : Effect.fail(new DestinationRefused({ message: refusal }))
  }
  return Effect.tryPromise({
    try: () => dns.promises.lookup(url.hostname, { all: true, verbatim: true }),
    catch: (error) => new RequestFailed({ message: `could not resolve ${url.hostname}: ${(error as Error).message}` })
  }).pipe(
    Effect.flatMap((addresses): Effect.Effect<Resolved, DestinationRefused | RequestFailed> => {
      const [first] = addresses
      if (first === undefined) return Effect.fail(new RequestFailed({ message: `${url.hostname} has no address` }))
      const refused = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address))
      return refused === undefined
        ? Effect.succeed(first)
        : Effect.fail(
            new DestinationRefused({ message: `${url.hostname} resolves to ${refused.address}, a ${classifyAddress(refused.address)} address; webhooks go to public addresses only` })
          )
    })
  )
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | ReadonlyArray<dns.LookupAddress>, family?: number) => void

/** A `lookup` that answers every question with the address that was checked. */
const pinned =
  (to: Resolved) =>
  (_hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    if (options.all === true) callback(null, [{ address: to.address, family: to.family }])
    else callback(null, to.address, to.family)
  }

const send = (url: URL, request: SafePost, to: Resolved | undefined, excerptBytes: number) =>
  Effect.async<SafeResponse, RequestFailed>((resume) => {
    const client = url.protocol === "https:" ? https : http
    let done = false
    const finish = (result: Effect.Effect<SafeResponse, RequestFailed>) => {
      if (done) return
      done = true
      resume(result)
    }
    const req = client.request(url, {
      method: "POST",
      agent: false,
      headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
      ...(to === undefined ? {} : { lookup: pinned(to) as unknown as typeof dns.lookup })
    })
    req.on("error", (error) => finish(Effect.fail(new RequestFailed({ message: error.message }))))
    req.on("response", (response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const answer = () => {
        finish(Effect.succeed({ status: response.statusCode ?? 0, excerpt: Buffer.concat(chunks).subarray(0, excerptBytes).toString("utf8") }))
        response.destroy()
        req.destroy()
      }
      response.on("data", (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        if (size >= excerptBytes) answer()
      })
      response.on("end", answer)
      response.on("error", answer) // the status came; a body cut short is still an answer
    })
    req.end(request.body)
    return Effect.sync(() => req.destroy())
  })

/**
 * POSTs `body` to `url` within `timeout`: the response's status and excerpt, whatever the status;
 * `DestinationRefused` when the destination is not allowed, `RequestFailed` when nothing answered.
 */
export const safePost = (request: SafePost): Effect.Effect<SafeResponse, DestinationRefused | RequestFailed> =>
  Effect.gen(function* () {
    const url = yield* Effect.try({ try: () => new URL(request.url), catch: () => new DestinationRefused({ message: `${request.url} is not a URL` }) })
    if (url.protocol !== "http:" && url.protocol !== "https:") return yield* new DestinationRefused({ message: `${url.protocol} is not http or https` })
    if (Buffer.byteLength(request.body) > (request.maxBodyBytes ?? DEFAULT_MAX_BODY)) {
      return yield* new DestinationRefused({ message: `the body is over ${request.maxBodyBytes ?? DEFAULT_MAX_BODY} bytes` })
    }
    const to = yield* resolve(url, request.allowPrivate)
    return yield* send(url, request, to, request.excerptBytes ?? DEFAULT_EXCERPT)
  }).pipe(
    Effect.timeoutFail({ duration: request.timeout, onTimeout: () => new RequestFailed({ message: `no answer within ${Duration.format(request.timeout)}` }) })
  )
