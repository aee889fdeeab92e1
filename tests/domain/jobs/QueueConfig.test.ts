import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parseQueues } from "../../../domain/jobs/QueueConfig.ts"

describe("QUEUES", () => {
  it("parses queue:concurrency[:prefetch] lists", () => {
    expect(parseQueues("default:10,calls:4,sms:8")).toEqual(
      Either.right([
        { queue: "default", concurrency: 10, prefetch: 10 },
        { queue: "calls", concurrency: 4, prefetch: 4 },
        { queue: "sms", concurrency: 8, prefetch: 8 }
      ])
    )
    expect(parseQueues(" bench:10:500 ")).toEqual(Either.right([{ queue: "bench", concurrency: 10, prefetch: 500 }]))
  })

  it("rejects malformed entries with a message naming them", () => {
    for (const bad of ["", "default", "default:0", "default:x", "Default:1", "a:1,a:2", "a:1:2:3", "a:-1", "a:1:-2"]) {
      const result = parseQueues(bad)
      expect(Either.isLeft(result), bad).toBe(true)
    }
    expect(Either.getLeft(parseQueues("calls:lots"))).toEqual(expect.objectContaining({ value: expect.stringContaining("calls:lots") }))
  })

  it("round-trips any valid configuration", () => {
    const entry = fc.record({
      queue: fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/),
      concurrency: fc.integer({ min: 1, max: 10_000 }),
      prefetch: fc.integer({ min: 0, max: 10_000 })
    })
    fc.assert(
      fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 6, selector: (e) => e.queue }), (entries) => {
        const text = entries.map((e) => `${e.queue}:${e.concurrency}:${e.prefetch}`).join(",")
        expect(parseQueues(text)).toEqual(Either.right(entries))
      })
    )
  })
})
