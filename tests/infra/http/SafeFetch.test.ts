/**
 * SafeFetch: the address classification (a table of every refused range and
 * its IPv4-mapped, NAT64 and 6to4 forms, and a property that an address and
 * its mapped form always agree), the URL checks, and `safePost` against a
 * local server: refused destinations send nothing (IP literal, and a name
 * that resolves to loopback), the deadline holds against a server that never
 * answers, the response excerpt is bounded, redirects are not followed, and
 * a network failure is a `RequestFailed`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AddressClass, classifyAddress, ipv6Groups, literalRefusal, safePost } from "../../../infra/http/SafeFetch.ts"
import { type OutboundReceiver, startOutboundReceiver } from "../../support/outboundReceiver.ts"

const table: ReadonlyArray<readonly [string, AddressClass]> = [
  ["8.8.8.8", "public"],
  ["1.1.1.1", "public"],
  ["93.184.216.34", "public"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["10.0.0.1", "private"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["172.15.0.1", "public"],
  ["172.32.0.1", "public"],
  ["192.168.0.1", "private"],
  ["169.254.169.254", "link-local"],
  ["0.0.0.0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["100.64.0.1", "cgnat"],
  ["100.127.255.255", "cgnat"],
  ["100.63.255.255", "public"],
  ["100.128.0.0", "public"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "reserved"],
  ["192.0.2.1", "reserved"],
  ["198.18.0.1", "reserved"],
  ["203.0.113.7", "reserved"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["[::1]", "loopback"],
  ["fc00::1", "private"],
  ["fdff:ffff::1", "private"],
  ["fe80::1", "link-local"],
  ["fe80::1%eth0", "link-local"],
  ["febf::1", "link-local"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "reserved"],
  ["2606:4700:4700::1111", "public"],
  ["2a00:1450:4001:80b::200e", "public"],
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:10.1.2.3", "private"],
  ["::ffff:169.254.169.254", "link-local"],
  ["::ffff:8.8.8.8", "public"],
  ["::127.0.0.1", "loopback"],
  ["64:ff9b::192.168.1.1", "private"],
  ["64:ff9b::8.8.8.8", "public"],
  ["2002:7f00:1::1", "loopback"],
  ["2002:0808:0808::1", "public"],
  ["localhost", "invalid"],
  ["1.2.3", "invalid"],
  ["::ffff:999.0.0.1", "invalid"]
]

describe("classifyAddress", () => {
  it.each(table)("%s is %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected)
  })

  it("property: an IPv4 address and its IPv4-mapped IPv6 forms (dotted and hex) are classified alike", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number)
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
        expect(classifyAddress(`::ffff:${v4}`)).toBe(classifyAddress(v4))
        expect(classifyAddress(hex)).toBe(classifyAddress(v4))
      }),
      { numRuns: 500 }
    )
  })

  it("property: every valid IPv6 text parses to eight 16-bit groups, and equal addresses to equal groups", () => {
    fc.assert(
      fc.property(fc.ipV6(), (v6) => {
        const groups = ipv6Groups(v6)
        expect(groups).toHaveLength(8)
        const expanded = (groups ?? []).map((g) => g.toString(16)).join(":")
        expect(ipv6Groups(expanded)).toEqual(groups)
        expect(classifyAddress(expanded)).toBe(classifyAddress(v6))
      }),
      { numRuns: 500 }
    )
  })
})

describe("literalRefusal", () => {
  it("refuses URLs whose host is a non-public IP literal, in every spelling the URL parser accepts", () => {
    for (const url of ["http://127.0.0.1/", "https://[::1]:8443/x", "http://2130706433/", "http://0x7f.1/", "http://10.0.0.1:80/", "http://[::ffff:169.254.169.254]/", "http://0/"]) {
      expect(literalRefusal(new URL(url)), url).toMatch(/webhooks go to public addresses only/)
    }
  })

  it("leaves names and public literals to the delivery-time check", () => {
    for (const url of ["https://example.com/hook", "https://8.8.8.8/", "http://localhost:8080/", "https://[2606:4700::1111]/"]) {
      expect(literalRefusal(new URL(url)), url).toBeUndefined()
    }
  })
})

describe("safePost", () => {
  let receiver: OutboundReceiver
  beforeAll(async () => {
    receiver = await startOutboundReceiver()
  })
  afterAll(() => receiver.close())

  const post = (url: string, options: { allowPrivate?: boolean; timeoutMs?: number; excerptBytes?: number; body?: string } = {}) =>
    Effect.runPromise(
      Effect.either(
        safePost({
          url,
          headers: { "content-type": "application/json", "x-test": "1" },
          body: options.body ?? '{"hello":"world"}',
          timeout: Duration.millis(options.timeoutMs ?? 2_000),
          allowPrivate: options.allowPrivate ?? true,
          ...(options.excerptBytes === undefined ? {} : { excerptBytes: options.excerptBytes })
        })
      )
    )

  it("posts the body and headers and answers the status and the start of the body", async () => {
    receiver.behave(() => ({ status: 201, body: "created" }))
    const before = receiver.received.length
    const result = await post(`${receiver.base}/ok`)
    expect(result).toEqual(Either.right({ status: 201, excerpt: "created" }))
    const got = receiver.received[before]
    expect(got?.body).toBe('{"hello":"world"}')
    expect(got?.headers["x-test"]).toBe("1")
    expect(got?.headers["host"]).toBe(`127.0.0.1:${receiver.port}`)
  })

  it("keeps at most the excerpt's bytes of a large body", async () => {
    receiver.behave(() => ({ status: 500, body: "x".repeat(200_000) }))
    const result = await post(`${receiver.base}/big`, { excerptBytes: 1024 })
    if (Either.isLeft(result)) throw new Error(result.left.message)
    expect(result.right.status).toBe(500)
    expect(Buffer.byteLength(result.right.excerpt)).toBe(1024)
  })

  it("does not follow redirects", async () => {
    receiver.behave((d) => (d.path === "/moved" ? { status: 302, body: "" } : { status: 200 }))
    const before = receiver.received.length
    const result = await post(`${receiver.base}/moved`)
    expect(Either.map(result, (r) => r.status)).toEqual(Either.right(302))
    expect(receiver.received.length).toBe(before + 1)
  })

  it("gives up at the deadline when the server never answers", async () => {
    receiver.behave(() => ({ hang: true }))
    const started = Date.now()
    const result = await post(`${receiver.base}/hang`, { timeoutMs: 300 })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(Either.isLeft(result) && result.left._tag).toBe("RequestFailed")
    expect(Either.isLeft(result) && result.left.message).toMatch(/no answer within/)
  })

  it("reports a refused connection as RequestFailed", async () => {
    const closed = await startOutboundReceiver()
    const url = `${closed.base}/gone`
    await closed.close()
    const result = await post(url)
    expect(Either.isLeft(result) && result.left._tag).toBe("RequestFailed")
  })

  it("refuses private destinations without sending: an IP literal, and a name that resolves to loopback", async () => {
    receiver.behave(() => ({ status: 204 }))
    const before = receiver.received.length
    const literal = await post(`${receiver.base}/private`, { allowPrivate: false })
    expect(Either.isLeft(literal) && literal.left._tag).toBe("DestinationRefused")
    expect(Either.isLeft(literal) && literal.left.message).toMatch(/127\.0\.0\.1 is a loopback address/)
    const named = await post(`http://localhost:${receiver.port}/private`, { allowPrivate: false })
    expect(Either.isLeft(named) && named.left._tag).toBe("DestinationRefused")
    expect(Either.isLeft(named) && named.left.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), a loopback address/)
    expect(receiver.received.length).toBe(before)
    // the same name is reached when private destinations are allowed, through the address that was checked
    const allowed = await post(`http://localhost:${receiver.port}/private`, { allowPrivate: true })
    expect(Either.isRight(allowed) || (Either.isLeft(allowed) && /ECONNREFUSED ::1/.test(allowed.left.message))).toBe(true)
  })

  it("refuses a body over the bound and schemes other than http(s)", async () => {
    const big = await post(`${receiver.base}/x`, { body: "x".repeat(300 * 1024) })
    expect(Either.isLeft(big) && big.left.message).toMatch(/the body is over/)
    const ftp = await post("ftp://example.com/x")
    expect(Either.isLeft(ftp) && ftp.left._tag).toBe("DestinationRefused")
  })
})
