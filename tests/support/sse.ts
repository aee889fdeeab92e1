/**
 * A server-sent events client for tests: opens a stream with fetch, parses
 * its events and comments as they arrive, and closes it on demand. (The
 * EventSource of browsers does the same; this one lets tests see comments,
 * choose the Last-Event-ID and disconnect at a chosen event.)
 */
import { eventually } from "./database.ts"

export interface SseMessage {
  readonly id: string | undefined
  readonly data: string
}

export interface SseStream {
  readonly response: Response
  readonly messages: Array<SseMessage>
  readonly comments: Array<string>
  /** The `retry:` the server asked for, once read. */
  readonly retry: () => number | undefined
  /** Resolves when the server ends the stream (not when `close` does). */
  readonly ended: Promise<void>
  readonly isEnded: () => boolean
  /** Waits until `predicate` holds of the messages so far. */
  readonly waitFor: (predicate: (messages: ReadonlyArray<SseMessage>) => boolean, what: string, timeoutMs?: number) => Promise<ReadonlyArray<SseMessage>>
  readonly close: () => void
}

/** Opens `url`; a response that is not a stream (a problem) is returned with no reading. */
export const openStream = async (url: string, headers: Record<string, string> = {}): Promise<SseStream> => {
  const controller = new AbortController()
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal })
  const messages: Array<SseMessage> = []
  const comments: Array<string> = []
  let retry: number | undefined
  let ended = false
  const parse = (block: string) => {
    let id: string | undefined
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) comments.push(line.slice(1).trim())
      else if (line.startsWith("id:")) id = line.slice(3).trim()
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""))
      else if (line.startsWith("retry:")) retry = Number(line.slice(6).trim())
    }
    if (data.length > 0) messages.push({ id, data: data.join("\n") })
  }
  const streaming = response.ok && (response.headers.get("content-type") ?? "").startsWith("text/event-stream") && response.body !== null
  const reading = (async () => {
    if (!streaming || response.body === null) return
    const decoder = new TextDecoder()
    let buffer = ""
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        for (let at = buffer.indexOf("\n\n"); at >= 0; at = buffer.indexOf("\n\n")) {
          parse(buffer.slice(0, at))
          buffer = buffer.slice(at + 2)
        }
      }
      ended = true
    } catch {
      // aborted by close(), or the connection broke
    }
  })()
  return {
    response,
    messages,
    comments,
    retry: () => retry,
    ended: reading.then(() => (ended ? undefined : new Promise<void>(() => {}))),
    isEnded: () => ended,
    waitFor: (predicate, what, timeoutMs = 20_000) => eventually(async () => (predicate(messages) ? [...messages] : undefined), timeoutMs, what),
    close: () => controller.abort()
  }
}

/** The messages' data as JSON objects. */
export const parsed = <A = Record<string, unknown>>(messages: ReadonlyArray<SseMessage>): Array<A> => messages.map((m) => JSON.parse(m.data) as A)
