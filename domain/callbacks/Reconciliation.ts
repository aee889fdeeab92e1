/**
 * Which call, if any, an ambiguous create made: the decision the dialer takes
 * once an attempt's create failed ambiguously (a timeout, a 5xx after sending)
 * and its status callbacks stayed silent. Pure: the caller lists Twilio's calls
 * from our number to the attempt's number (by `date_created`, never by start
 * time: a call still queued has none), reads which of them attempts already own,
 * and passes the clock in.
 *
 * A create takes effect, if at all, between the moment the attempt was written
 * (`startedAt`) and the moment its request gave up (`TWILIO_TIMEOUT` later),
 * give or take the difference between our clock and Twilio's (`CLOCK_SKEW`).
 * That is the attempt's window. The dialer keeps at most one unresolved
 * ambiguous create per number among attempts whose windows overlap
 * (`blockingHorizon`), so an unowned call in the window can only be this one's.
 */

/** How far Twilio's clock (`date_created`, whole seconds) may stand from ours. */
export const CLOCK_SKEW_MS = 10_000

/** A call as Twilio lists it: `createdAt` undefined when its `date_created` could not be read. */
export interface ListedCall {
  readonly sid: string
  readonly createdAt: Date | undefined
}

/** When the call an ambiguous create made must have been created, in Twilio's clock. */
export interface CreateWindow {
  readonly from: number
  readonly until: number
}

export const windowOf = (startedAt: Date, requestTimeoutMs: number): CreateWindow => ({
  from: startedAt.getTime() - CLOCK_SKEW_MS,
  until: startedAt.getTime() + requestTimeoutMs + CLOCK_SKEW_MS
})

/**
 * How long after an attempt started a dial to the same number must wait while that attempt is unresolved:
 * two windows are disjoint once their attempts started further apart than this, so neither can take the other's call.
 */
export const blockingHorizonMs = (requestTimeoutMs: number): number => requestTimeoutMs + 2 * CLOCK_SKEW_MS

export type Verdict =
  /** This listed call is the attempt's. */
  | { readonly _tag: "Adopt"; readonly sid: string }
  /** No call was made: the attempt may be taken back and dialed again. */
  | { readonly _tag: "NotPlaced" }
  /** Cannot tell yet: neither adopt nor take back; ask again later. */
  | { readonly _tag: "Undecided"; readonly reason: string }

export interface ReconcileInput {
  readonly window: CreateWindow
  /** Every call Twilio lists from our number to the attempt's number (any order). */
  readonly calls: ReadonlyArray<ListedCall>
  /** Whether `calls` is the whole list (false when paging stopped at its limit). */
  readonly complete: boolean
  /** Sids some attempt (this one included) already owns. */
  readonly owned: ReadonlySet<string>
  /** Our clock, in milliseconds. */
  readonly now: number
}

const inWindow = (window: CreateWindow, at: Date) => at.getTime() >= Math.floor(window.from / 1000) * 1000 && at.getTime() <= window.until

/**
 * An unowned call created within the window is the attempt's (the earliest, should the uniqueness rule ever
 * have been broken: still at most one call per attempt). "Never placed" only when the whole list was read, the
 * window has closed, and no unowned call without a readable date could be the one.
 */
export const reconcileCreate = (input: ReconcileInput): Verdict => {
  const unowned = input.calls.filter((call) => !input.owned.has(call.sid))
  const candidates = unowned
    .filter((call): call is ListedCall & { readonly createdAt: Date } => call.createdAt !== undefined && inWindow(input.window, call.createdAt))
    .toSorted((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0))
  const first = candidates[0]
  if (first !== undefined) return { _tag: "Adopt", sid: first.sid }
  if (!input.complete) return { _tag: "Undecided", reason: "Twilio's list of calls to this number was longer than what was read" }
  if (input.now <= input.window.until) return { _tag: "Undecided", reason: "the create may still take effect" }
  if (unowned.some((call) => call.createdAt === undefined)) return { _tag: "Undecided", reason: "a call with no readable creation date may be this one" }
  return { _tag: "NotPlaced" }
}
