import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import { delayAfter } from "../../supervisors/Promoter.ts"

describe("promoter timing", () => {
  const poll = Duration.seconds(1)
  it("goes again at once after a full batch", () => {
    expect(Duration.toMillis(delayAfter({ promoted: 1_000, nextDueAt: Option.none() }, 0, poll))).toBe(0)
  })
  it("sleeps until the next due job, at most the poll interval and at least 5 ms", () => {
    expect(Duration.toMillis(delayAfter({ promoted: 0, nextDueAt: Option.some(new Date(300)) }, 0, poll))).toBe(300)
    expect(Duration.toMillis(delayAfter({ promoted: 0, nextDueAt: Option.some(new Date(60_000)) }, 0, poll))).toBe(1_000)
    expect(Duration.toMillis(delayAfter({ promoted: 3, nextDueAt: Option.some(new Date(-50)) }, 0, poll))).toBe(5)
    expect(Duration.toMillis(delayAfter({ promoted: 0, nextDueAt: Option.none() }, 0, poll))).toBe(1_000)
  })
})
