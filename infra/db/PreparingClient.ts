/**
 * A `pg` client that sends each parameterised statement as a named prepared statement, so PostgreSQL parses
 * and plans it once per connection instead of once per execution.
 *
 * Why: @effect/sql-pg sends every statement unnamed, and PostgreSQL plans an unnamed statement afresh each
 * time: 1.65 ms of planning per create and its text, against 4.3 ms of executing (docs/benchmarks.md,
 * "Statements prepared once per connection").
 *
 * What it owns: per connection, the texts it has named (text -> name), most recently used last. A statement
 * is named only when it carries parameters: parameterless texts may hold several statements (migrations,
 * `BEGIN`) and the extended protocol takes one. At most `CAPACITY` names live on a connection; naming one
 * more drops the least recently used (deallocated just before the next named statement), so SQL built at
 * run time (lists of varying length) cannot grow the server's memory without bound.
 *
 * How it fails: a deploy that changes a table under a statement that returns `*` makes PostgreSQL refuse the
 * cached plan ("cached plan must not change result type", 0A000) on every later execution. The name is then
 * forgotten (the next execution parses afresh) and, when the connection was outside a transaction, the
 * statement is sent again once: nothing ran, so it is safe. Inside a transaction the error reaches the
 * caller, as any error would, and the transaction is rolled back by its owner.
 *
 * Trade-off: a prepared statement may switch to a generic plan after five executions (`plan_cache_mode`
 * auto). The engine's and the product's statements take keys, not skewed ranges, so a generic plan is what
 * they want; `bench:jobs` and `bench:load` measure it.
 */
import Pg from "pg"

/** Names kept per connection; the application's distinct parameterised statements fit well inside it. */
export const CAPACITY = 256

const STALE_PLAN = "0A000"

type Callback = (error: Error | null, result?: unknown) => void

interface NamedConfig {
  readonly text: string
  readonly values?: ReadonlyArray<unknown>
  readonly name?: string
  readonly submit?: unknown
  readonly [key: string]: unknown
}

/** `pg`'s parsed-statement bookkeeping: a name dropped here is parsed again on its next use. */
interface Bookkeeping {
  readonly connection: { readonly parsedStatements: Record<string, string> }
}

const isStalePlan = (error: unknown) =>
  (error as { code?: unknown } | null)?.code === STALE_PLAN &&
  String((error as { message?: unknown }).message).includes("cached plan must not change result type")

export class PreparingClient extends Pg.Client {
  readonly #names = new Map<string, string>()
  readonly #dropped: Array<string> = []
  #issued = 0

  /** The name for `text` on this connection, marking it most recently used; evicts beyond `CAPACITY`. */
  #nameOf(text: string): string {
    const known = this.#names.get(text)
    if (known !== undefined) {
      this.#names.delete(text)
      this.#names.set(text, known)
      return known
    }
    if (this.#names.size >= CAPACITY) {
      const [oldest] = this.#names
      if (oldest !== undefined) this.#forget(oldest[0])
    }
    const name = `sb${(this.#issued += 1).toString(36)}`
    this.#names.set(text, name)
    return name
  }

  /** Drops `text`'s name here; the server's copy is deallocated just before this connection's next named statement. */
  #forget(text: string) {
    const name = this.#names.get(text)
    if (name === undefined) return
    this.#names.delete(text)
    delete (this as unknown as Bookkeeping).connection.parsedStatements[name]
    this.#dropped.push(name)
  }

  /**
   * Sends `config` under its name, after deallocating the names dropped since the last one (one round trip
   * more, only after an eviction; one statement at a time on the connection, as `pg` asks). A refused
   * `DEALLOCATE` (an aborted transaction) is ignored: the name is never reused.
   */
  #send(config: NamedConfig, done: Callback) {
    const named = { ...config, name: this.#nameOf(config.text) } as Pg.QueryConfig
    if (this.#dropped.length === 0) return void super.query(named, done as never)
    const dropped = this.#dropped.splice(0).map((name) => `DEALLOCATE ${name}`).join("; ")
    super.query(dropped, () => void super.query(named, done as never))
  }

  /** The same overloads as `pg.Client#query`; parameterised text (string or config object) goes out named. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one override stands for all of pg's query overloads
  override query(...args: Array<any>): any {
    const [first, second, third] = args
    const named = namedConfig(first, second)
    if (named === undefined) return (super.query as (...a: Array<unknown>) => unknown)(...args)
    const callback: Callback | undefined = typeof second === "function" ? second : typeof third === "function" ? third : undefined
    const outside = this.getTransactionStatus() === "I"
    const run = (done: Callback) =>
      this.#send(named, (error, result) => {
        if (!error || !isStalePlan(error)) return done(error, result)
        this.#forget(named.text)
        if (!outside) return done(error)
        this.#send(named, done)
      })
    if (callback !== undefined) return void run(callback)
    return new Promise((resolve, reject) => run((error, result) => (error ? reject(error) : resolve(result))))
  }
}

/** The statement as a config to name, or undefined when it goes out as given (no parameters, a cursor, named). */
const namedConfig = (first: unknown, second: unknown): NamedConfig | undefined => {
  if (typeof first === "string") return Array.isArray(second) && second.length > 0 ? { text: first, values: second } : undefined
  if (first === null || typeof first !== "object") return undefined
  const config = first as NamedConfig
  if (typeof config.text !== "string" || config.name !== undefined || typeof config.submit === "function") return undefined
  const values = Array.isArray(second) ? second : config.values
  return Array.isArray(values) && values.length > 0 ? { ...config, values } : undefined
}
