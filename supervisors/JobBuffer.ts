/**
 * The claimed jobs a pool holds, in claim order, and the runner fibers waiting
 * for them. A plain array with a moving head: a take that finds a job costs no
 * allocation beyond the effect that returns it (Effect's Queue was a visible
 * share of per-job overhead). Closing interrupts the waiting runners.
 */
import * as Effect from "effect/Effect"

export interface JobBuffer<A> {
  readonly push: (items: ReadonlyArray<A>) => void
  /** The next item, waiting for one if need be; interrupted once the buffer is closed and empty. */
  readonly take: Effect.Effect<A>
  /** Removes and returns everything buffered. */
  readonly takeAll: () => Array<A>
  readonly close: () => void
}

export const makeJobBuffer = <A>(): JobBuffer<A> => {
  let items: Array<A | undefined> = []
  let head = 0
  let closed = false
  const waiters: Array<(effect: Effect.Effect<A>) => void> = []

  const next = (): A => {
    const item = items[head] as A
    items[head++] = undefined
    if (head === items.length) {
      items = []
      head = 0
    }
    return item
  }

  const wait = Effect.async<A>((resume) => {
    if (head < items.length) return resume(Effect.succeed(next()))
    if (closed) return resume(Effect.interrupt)
    waiters.push(resume)
    return Effect.sync(() => {
      const index = waiters.indexOf(resume)
      if (index >= 0) waiters.splice(index, 1)
    })
  })

  return {
    push: (incoming) => {
      for (const item of incoming) {
        const waiter = waiters.shift()
        if (waiter !== undefined) waiter(Effect.succeed(item))
        else items.push(item)
      }
    },
    take: Effect.suspend(() => (head < items.length ? Effect.succeed(next()) : wait)),
    takeAll: () => {
      const all = items.slice(head) as Array<A>
      items = []
      head = 0
      return all
    },
    close: () => {
      closed = true
      for (const waiter of waiters.splice(0)) waiter(Effect.interrupt)
    }
  }
}
