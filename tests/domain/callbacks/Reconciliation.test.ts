/**
 * The reconciliation decision: cases, then a model of dials to a few numbers
 * where creates succeed, are refused, or fail ambiguously after or before
 * making a call, status callbacks are lost, late or repeated, calls wait in
 * Twilio's queue, and Twilio's clock stands off ours. With the dialer's rule
 * (one unresolved create per number within the horizon) every attempt ends
 * with at most one call, never adopts a call another attempt made, is taken
 * back only when it made no call (so dialing again is no second call), and
 * every call made is owned by the attempt that made it.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { blockingHorizonMs, CLOCK_SKEW_MS, type ListedCall, reconcileCreate, windowOf } from "../../../domain/callbacks/Reconciliation.ts"

const T = 15_000
const start = new Date("2026-12-04T10:00:00.400Z")
const at = (offsetMs: number) => new Date(Math.floor((start.getTime() + offsetMs) / 1000) * 1000)
const after = start.getTime() + T + CLOCK_SKEW_MS + 1

describe("reconcileCreate", () => {
  const window = windowOf(start, T)
  const decide = (calls: ReadonlyArray<ListedCall>, owned: ReadonlyArray<string> = [], now = after, complete = true) =>
    reconcileCreate({ window, calls, complete, owned: new Set(owned), now })

  it("adopts the unowned call created in the window, queued or not (start time plays no part)", () => {
    expect(decide([{ sid: "CAold", createdAt: at(-60_000) }, { sid: "CAmine", createdAt: at(300) }])).toEqual({ _tag: "Adopt", sid: "CAmine" })
    // date_created has whole seconds: a call made 100 ms after the attempt began reads as made before it
    expect(decide([{ sid: "CAmine", createdAt: at(-300) }])).toEqual({ _tag: "Adopt", sid: "CAmine" })
  })

  it("never adopts a call an attempt owns, nor one outside the window", () => {
    expect(decide([{ sid: "CAtheirs", createdAt: at(1_000) }], ["CAtheirs"])).toEqual({ _tag: "NotPlaced" })
    expect(decide([{ sid: "CAlate", createdAt: at(T + CLOCK_SKEW_MS + 2_000) }, { sid: "CAearly", createdAt: at(-CLOCK_SKEW_MS - 2_000) }])).toEqual({ _tag: "NotPlaced" })
  })

  it("does not call a create never placed until the window has closed and the whole list was read", () => {
    expect(decide([], [], start.getTime() + T)).toMatchObject({ _tag: "Undecided" })
    expect(decide([], [], after, false)).toMatchObject({ _tag: "Undecided" })
    expect(decide([{ sid: "CAundated", createdAt: undefined }])).toMatchObject({ _tag: "Undecided" })
    expect(decide([{ sid: "CAundated", createdAt: undefined }], ["CAundated"])).toEqual({ _tag: "NotPlaced" })
    expect(decide([])).toEqual({ _tag: "NotPlaced" })
  })

  it("adopts the earliest should two unowned calls share a window (at most one call per attempt)", () => {
    expect(decide([{ sid: "CAb", createdAt: at(2_000) }, { sid: "CAa", createdAt: at(1_000) }])).toEqual({ _tag: "Adopt", sid: "CAa" })
  })

  it("two attempts started further apart than the horizon have disjoint windows", () => {
    const first = windowOf(start, T)
    const second = windowOf(new Date(start.getTime() + blockingHorizonMs(T) + 1), T)
    expect(second.from).toBeGreaterThan(first.until)
  })
})

type Outcome = "ok" | "refused" | "ambiguousMade" | "ambiguousNone"

interface Intent {
  readonly number: number
  readonly at: number
  readonly outcome: Outcome
  /** How long the create took (and when an ambiguous one's call was made). */
  readonly took: number
  /** When the call's first status callback arrives after it is made; undefined: all of them lost. */
  readonly callbackAfter: number | undefined
  /** How many times that callback is delivered. */
  readonly deliveries: number
  /** How long the call waits in Twilio's queue before it starts (no start time until then). */
  readonly queuedFor: number
}

const intentArb = (numbers: number): fc.Arbitrary<Intent> =>
  fc.record({
    number: fc.integer({ min: 0, max: numbers - 1 }),
    at: fc.integer({ min: 0, max: 90_000 }),
    outcome: fc.constantFrom<Outcome>("ok", "refused", "ambiguousMade", "ambiguousNone"),
    took: fc.integer({ min: 0, max: T }),
    callbackAfter: fc.option(fc.integer({ min: 10, max: 120_000 }), { nil: undefined }),
    deliveries: fc.integer({ min: 1, max: 3 }),
    queuedFor: fc.integer({ min: 0, max: 180_000 })
  })

interface Attempt {
  readonly id: number
  readonly number: number
  readonly start: number
  resolved: boolean
  takenBack: boolean
  owns: string | undefined
}

interface Call {
  readonly sid: string
  readonly number: number
  readonly madeBy: number
  /** Our clock. */
  readonly madeAt: number
  readonly startsAt: number
}

type Event =
  | { readonly kind: "dial"; readonly t: number; readonly intent: Intent }
  | { readonly kind: "answer"; readonly t: number; readonly attempt: number; readonly intent: Intent }
  | { readonly kind: "callback"; readonly t: number; readonly attempt: number; readonly sid: string }
  | { readonly kind: "reconcile"; readonly t: number; readonly attempt: number }

const QUIET = 60_000
const REDIAL = 5_000
const SNOOZE = 1_000

/** Runs the dials; throws (through expect) on any broken rule. */
const runModel = (intents: ReadonlyArray<Intent>, skew: number) => {
  const horizon = blockingHorizonMs(T)
  const attempts: Array<Attempt> = []
  const calls: Array<Call> = []
  const owner = new Map<string, number>()
  const queue: Array<Event> = intents.map((intent) => ({ kind: "dial", t: intent.at, intent }))
  let seq = 0
  for (let steps = 0; queue.length > 0; steps++) {
    expect(steps).toBeLessThan(5_000)
    queue.sort((a, b) => a.t - b.t)
    const event = queue.shift()!
    const t = event.t
    if (event.kind === "dial") {
      const { intent } = event
      const held = attempts.some((a) => a.number === intent.number && !a.resolved && a.start > t - horizon)
      if (held) {
        queue.push({ ...event, t: t + SNOOZE })
        continue
      }
      const attempt: Attempt = { id: attempts.length, number: intent.number, start: t, resolved: false, takenBack: false, owns: undefined }
      attempts.push(attempt)
      queue.push({ kind: "answer", t: t + intent.took, attempt: attempt.id, intent })
      continue
    }
    const attempt = attempts[event.attempt]!
    if (event.kind === "answer") {
      const { intent } = event
      if (intent.outcome === "ok" || intent.outcome === "ambiguousMade") {
        const call: Call = { sid: `CA${seq++}`, number: attempt.number, madeBy: attempt.id, madeAt: t, startsAt: t + intent.queuedFor }
        calls.push(call)
        if (intent.outcome === "ok") {
          attempt.owns = call.sid
          owner.set(call.sid, attempt.id)
          attempt.resolved = true
        }
        if (intent.callbackAfter !== undefined) {
          for (let i = 0; i < intent.deliveries; i++) queue.push({ kind: "callback", t: t + intent.callbackAfter + i * 7, attempt: attempt.id, sid: call.sid })
        }
      }
      if (intent.outcome === "refused") {
        attempt.resolved = true
        attempt.takenBack = true
        queue.push({ kind: "dial", t: t + REDIAL, intent: { ...intent, outcome: "ok", at: t + REDIAL } })
      }
      if (intent.outcome === "ambiguousMade" || intent.outcome === "ambiguousNone") queue.push({ kind: "reconcile", t: t + QUIET, attempt: attempt.id })
      continue
    }
    if (event.kind === "callback") {
      // a status callback names its attempt: it records the sid unless another attempt owns it (unownedSid)
      if (attempt.takenBack) throw new Error(`a callback reached attempt ${attempt.id}, which was taken back as never placed`)
      const current = owner.get(event.sid)
      if (current === undefined && attempt.owns === undefined) {
        attempt.owns = event.sid
        owner.set(event.sid, attempt.id)
      }
      attempt.resolved = true
      continue
    }
    // reconcile: only while its reports stayed silent (a callback resolved it)
    if (attempt.resolved) continue
    const listed: ReadonlyArray<ListedCall> = calls
      .filter((call) => call.number === attempt.number && call.madeAt <= t)
      // Twilio's clock, whole seconds; whether the call has started yet plays no part in the listing
      .map((call) => ({ sid: call.sid, createdAt: new Date(Math.floor((call.madeAt + skew) / 1000) * 1000) }))
    const verdict = reconcileCreate({ window: windowOf(new Date(attempt.start), T), calls: listed, complete: true, owned: new Set(owner.keys()), now: t })
    if (verdict._tag === "Adopt") {
      const call = calls.find((c) => c.sid === verdict.sid)!
      expect(call.madeBy, `attempt ${attempt.id} adopted the call of attempt ${call.madeBy}`).toBe(attempt.id)
      expect(attempt.owns).toBeUndefined()
      attempt.owns = call.sid
      owner.set(call.sid, attempt.id)
      attempt.resolved = true
    } else if (verdict._tag === "NotPlaced") {
      expect(calls.filter((c) => c.madeBy === attempt.id), `attempt ${attempt.id} was taken back but made a call`).toEqual([])
      attempt.resolved = true
      attempt.takenBack = true
      queue.push({ kind: "dial", t: t + REDIAL, intent: { number: attempt.number, at: t + REDIAL, outcome: "ok", took: 100, callbackAfter: 50, deliveries: 1, queuedFor: 0 } })
    } else {
      queue.push({ kind: "reconcile", t: t + QUIET, attempt: attempt.id })
    }
  }
  // in the end: each call is owned by the attempt that made it, and each attempt made at most one call
  for (const call of calls) expect(owner.get(call.sid), `call ${call.sid}`).toBe(call.madeBy)
  for (const attempt of attempts) expect(calls.filter((c) => c.madeBy === attempt.id).length).toBeLessThanOrEqual(1)
  return { attempts, calls }
}

describe("reconciliation under the one-unresolved-create-per-number rule (model)", () => {
  it("every attempt ends with at most one call, its own; a take-back never hides a call", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }).chain((numbers) => fc.array(intentArb(numbers), { minLength: 1, maxLength: 8 })),
        fc.integer({ min: -(CLOCK_SKEW_MS - 1_000), max: CLOCK_SKEW_MS - 1_000 }),
        (intents, skew) => {
          runModel(intents, skew)
        }
      ),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 }
    )
  })

  it("the case that used to dial twice: an ambiguous create whose call sits queued past the quiet period, callbacks lost", () => {
    const { attempts, calls } = runModel([{ number: 0, at: 0, outcome: "ambiguousMade", took: 2_000, callbackAfter: undefined, deliveries: 1, queuedFor: 10 * QUIET }], 0)
    expect(calls).toHaveLength(1)
    expect(attempts).toHaveLength(1)
    expect(attempts[0]?.owns).toBe(calls[0]?.sid)
  })
})
