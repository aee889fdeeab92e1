/** The ranks of text message statuses: a status report replaces the stored status only when it ranks above it. */
import { describe, expect, it } from "vitest"
import { isMessageProgress, reportedMessageRank, storedMessageRank, UnreportedMessageStatuses } from "../../../domain/callbacks/CallProgress.ts"

describe("message status ranks", () => {
  it("ranks reports queued < sent < final, any unknown word as final", () => {
    expect(["queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "partially-delivered"].map(reportedMessageRank)).toEqual([1, 1, 2, 3, 3, 3, 3, 3])
  })

  it("ranks our own unreported statuses and unknown stored words 0, so any report replaces them", () => {
    for (const status of [...UnreportedMessageStatuses, "accepted", "read"]) expect(storedMessageRank(status), status).toBe(0)
    expect(["queued", "sent", "delivered", "undelivered", "failed"].map(storedMessageRank)).toEqual([1, 2, 3, 3, 3])
  })

  it("applies only reports that move a text forward", () => {
    const cases: ReadonlyArray<readonly [stored: string, reported: string, applies: boolean]> = [
      ["sending", "queued", true],
      ["sending", "sending", true], // Twilio's sending after our own
      ["queued", "sending", false],
      ["queued", "sent", true],
      ["sent", "queued", false],
      ["sent", "delivered", true],
      ["delivered", "sent", false],
      ["delivered", "failed", false],
      ["unknown", "delivered", true],
      ["not_sent", "failed", true]
    ]
    for (const [stored, reported, applies] of cases) expect(isMessageProgress(stored, reported), `${stored} <- ${reported}`).toBe(applies)
  })
})
