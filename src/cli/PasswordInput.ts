/**
 * The password of `switchboard operator add`: read from standard input, so it
 * is never an argument (arguments show in `ps` and shell histories). Piped, the
 * first line is the password; at a terminal, it is asked for without echo.
 */
import * as Effect from "effect/Effect"

const fromPipe = (input: NodeJS.ReadStream): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    input.setEncoding("utf8")
    input.on("data", (chunk: string) => (text += chunk))
    input.on("end", () => resolve(text.split(/\r?\n/)[0] ?? ""))
    input.on("error", reject)
  })

const fromTerminal = (input: NodeJS.ReadStream, prompt: string): Promise<string> =>
  new Promise((resolve) => {
    process.stderr.write(prompt)
    let text = ""
    input.setRawMode(true)
    input.setEncoding("utf8")
    input.resume()
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n" || char === "\u0004") {
          input.setRawMode(false)
          input.pause()
          input.off("data", onData)
          process.stderr.write("\n")
          return resolve(text)
        }
        if (char === "\u0003") {
          input.setRawMode(false)
          process.stderr.write("\n")
          process.exit(130)
        }
        text = char === "\u007f" || char === "\b" ? text.slice(0, -1) : text + char
      }
    }
    input.on("data", onData)
  })

/** The password typed (hidden) at a terminal, or the first line of piped input. */
export const readPassword = (prompt: string): Effect.Effect<string> =>
  Effect.promise(() => (process.stdin.isTTY ? fromTerminal(process.stdin, prompt) : fromPipe(process.stdin)))
