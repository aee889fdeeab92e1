/**
 * `switchboard` (src/cli.ts) as a process and its parts: one usage text for
 * `--help`, `-h` and `help` on stdout with exit 0; a command line it does not
 * take says why and prints the usage on stderr with exit 2; `enqueue` decodes
 * the arguments with the kind's schema and refuses fields it does not name;
 * `jobs` prints a header row; `--dotenv PATH` reads variables from a file,
 * the environment winning.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { parseCommandLine, USAGE } from "../../src/cli/Arguments.ts"
import { loadEnvFile, parseEnvFile } from "../../src/cli/EnvFile.ts"
import { cloneDatabase, query } from "../support/database.ts"
import { count } from "../support/ledger.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children.clear()
})

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `switchboard ...args` to its end, with no DATABASE_URL unless given and only warnings logged; `input` is piped to its stdin. */
const switchboard = (args: ReadonlyArray<string>, env: Record<string, string> = {}, input?: string): Promise<Ran> => {
  const { DATABASE_URL: _, ...inherited } = process.env
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/cli.ts"), ...args], {
    cwd: root,
    env: { ...inherited, LOG_LEVEL: "warning", ...env },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"]
  })
  children.add(child)
  if (input !== undefined) child.stdin?.end(input)
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })))
}

describe("the usage text", () => {
  it.each([[["--help"]], [["-h"]], [["help"]], [["jobs", "--help"]], [["enqueue", "diagnostics.ping", "-h"]], [["help", "enqueue"]], [["--dotenv", ".env", "help"]]])(
    "is what %j asks for",
    (argv) => {
      expect(parseCommandLine(argv)).toEqual({ _tag: "Help" })
    }
  )

  it("is printed on stdout with exit 0, the same text for --help, -h and help, before or after a command", async () => {
    const runs = await Promise.all([switchboard(["--help"]), switchboard(["jobs", "-h"])])
    for (const run of runs) expect(run).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: "" })
    for (const command of ["start", "worker", "migrate", "enqueue", "jobs", "simulator", "help", "--dotenv", "--help"]) expect(USAGE).toContain(command)
  })
})

describe("a command line it does not take", () => {
  it.each([
    [[], "no command given"],
    [["frobnicate"], "unknown command frobnicate"],
    [["jobs", "--frob", "1"], "unknown option --frob for jobs (it takes --state, --queue, --kind, --limit)"],
    [["migrate", "--state", "completed"], "unknown option --state for migrate"],
    [["jobs", "-x"], "unknown option -x"],
    [["jobs", "--limit"], "--limit needs a value"],
    [["jobs", "--kind", "--limit", "5"], "--kind needs a value"],
    [["jobs", "--limit", "1", "--limit=2"], "--limit is given twice"],
    [["migrate", "now"], "migrate takes no arguments: now"],
    [["enqueue"], "enqueue needs an argument"],
    [["enqueue", "diagnostics.ping", "{}", "extra"], "enqueue takes at most 2: extra"]
  ])("%j is refused: %s", (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message)
  })

  it("keeps options, positional arguments and --dotenv apart", () => {
    expect(parseCommandLine(["--dotenv", "x.env", "enqueue", "diagnostics.ping", "{}", "--priority=1", "--unique-key", "k"])).toEqual({
      _tag: "Run",
      command: "enqueue",
      positional: ["diagnostics.ping", "{}"],
      options: new Map([["priority", "1"], ["unique-key", "k"]]),
      envFile: "x.env"
    })
  })

  it("says why, then prints the usage on stderr, and exits 2", async () => {
    // read before the application loads, and by a command once it has
    const [unknown, badValue] = await Promise.all([switchboard(["frobnicate"]), switchboard(["jobs", "--limit", "many"])])
    expect(unknown).toEqual({ code: 2, stdout: "", stderr: `unknown command frobnicate\n\n${USAGE}\n` })
    expect(badValue).toEqual({ code: 2, stdout: "", stderr: `--limit must be a whole number\n\n${USAGE}\n` })
  })
})

describe("enqueue and jobs", () => {
  let databaseUrl: string
  beforeAll(async () => {
    databaseUrl = await cloneDatabase()
  })
  const jobCount = () => count(databaseUrl, "SELECT count(*) AS n FROM jobs")

  it("refuses arguments the kind's schema does not name, naming each field, and enqueues nothing", async () => {
    const [refused, unknownKind] = await Promise.all([
      switchboard(["enqueue", "diagnostics.ping", '{"message":42,"mesage":"typo","extra":{"a":1}}'], { DATABASE_URL: databaseUrl }),
      switchboard(["enqueue", "diagnostics.pong"], { DATABASE_URL: databaseUrl })
    ])
    expect(refused.code).toBe(2)
    expect(refused.stdout).toBe("")
    expect(refused.stderr).toMatch(/^the arguments of diagnostics\.ping are refused:\n/)
    expect(refused.stderr).toMatch(/^ {2}mesage: is unexpected, expected: "message"$/m)
    expect(refused.stderr).toMatch(/^ {2}extra: is unexpected/m)
    expect(refused.stderr).toMatch(/^ {2}message: Expected string, actual 42$/m)
    expect(refused.stderr).not.toContain("usage:")
    expect(unknownKind).toMatchObject({ code: 2, stdout: "" })
    expect(unknownKind.stderr).toMatch(/^unknown job kind diagnostics\.pong; known: .*diagnostics\.ping/)
    expect(await jobCount()).toBe(0)
  })

  it("enqueues what the schema accepts, and jobs lists it under a header row", async () => {
    const enqueued = await switchboard(["enqueue", "diagnostics.ping", '{"message":"from the cli test"}', "--priority", "3"], { DATABASE_URL: databaseUrl })
    expect(enqueued.stderr).toBe("")
    expect(enqueued.code).toBe(0)
    const { id } = JSON.parse(enqueued.stdout) as { id: string }
    const listed = await switchboard(["jobs", "--kind", "diagnostics.ping"], { DATABASE_URL: databaseUrl })
    expect(listed.code).toBe(0)
    const [header, ...rows] = listed.stdout.trimEnd().split("\n")
    expect(header).toBe("id\tqueue\tkind\tstate\tattempt\trun_at\tlast_error")
    expect(rows).toHaveLength(1)
    expect(rows[0]?.split("\t").slice(0, 5)).toEqual([id, "default", "diagnostics.ping", "available", "0/3"])
  })
})

describe("--dotenv", () => {
  let folder: string
  beforeAll(async () => {
    folder = await fs.mkdtemp(path.join(os.tmpdir(), "switchboard-cli-"))
  })
  afterAll(() => fs.rm(folder, { recursive: true, force: true }))

  it("reads .env files as Node's --env-file does", () => {
    const text = [
      "# a comment",
      "",
      "PLAIN=value",
      "SPACED = padded value  ",
      "export EXPORTED=1",
      'DOUBLE="two words # not a comment"',
      "SINGLE='as \\n written'",
      'ESCAPED="line\\nbreak"',
      "COMMENTED=value # a comment",
      "HASH=a#b",
      "EMPTY=",
      "TWICE=first",
      "TWICE=second"
    ].join("\n")
    expect(Object.fromEntries(parseEnvFile(text))).toEqual({
      PLAIN: "value",
      SPACED: "padded value",
      EXPORTED: "1",
      DOUBLE: "two words # not a comment",
      SINGLE: "as \\n written",
      ESCAPED: "line\nbreak",
      COMMENTED: "value",
      HASH: "a",
      EMPTY: "",
      TWICE: "second"
    })
  })

  it("reads the variables of .env.example", async () => {
    const entries = Object.fromEntries(parseEnvFile(await fs.readFile(path.join(root, ".env.example"), "utf8")))
    expect(entries).toMatchObject({ PORT: "8080", QUEUES: "default:10,calls:50,sms:10,webhooks:10", SWITCHBOARD_DATA_DIR: ".switchboard" })
    expect(entries).not.toHaveProperty("DATABASE_URL") // commented out: the embedded server
  })

  it.each([
    ["not an assignment", "A=1\nnonsense\n", "x.env line 2: expected KEY=value"],
    ["a name that is not a variable", "A B=1\n", 'x.env line 1: "A B" is not a variable name'],
    ["an unclosed quote", 'A="open\n', "x.env line 1: the value opens a \" quote and does not close it"]
  ])("refuses %s, naming the line", (_, text, message) => {
    expect(() => parseEnvFile(text, "x.env")).toThrow(message)
  })

  it("sets only what the environment does not set, and refuses a missing file", async () => {
    const file = path.join(folder, "precedence.env")
    await fs.writeFile(file, "FROM_FILE=file\nALREADY=file\n")
    const env: NodeJS.ProcessEnv = { ALREADY: "environment" }
    expect(loadEnvFile(file, env)).toEqual(["FROM_FILE"])
    expect(env).toEqual({ FROM_FILE: "file", ALREADY: "environment" })
    expect(() => loadEnvFile(path.join(folder, "absent.env"), {})).toThrow(`--dotenv ${path.join(folder, "absent.env")}: no such file`)
  })

  it("configures a command from the file, the environment winning; a missing file is refused with exit 2", async () => {
    const databaseUrl = await cloneDatabase()
    const file = path.join(folder, "switchboard.env")
    await fs.writeFile(file, `# from the test\nDATABASE_URL=${databaseUrl}\nDATABASE_POOL_SIZE=1\n`)
    const absent = path.join(folder, "absent.env")
    const [fromFile, overridden, missing] = await Promise.all([
      switchboard(["--dotenv", file, "migrate"]),
      switchboard(["migrate", "--dotenv", file], { DATABASE_POOL_SIZE: "4" }),
      switchboard(["--dotenv", absent, "migrate"])
    ])
    expect(fromFile.code).toBe(1)
    expect(fromFile.stdout + fromFile.stderr).toContain("DATABASE_POOL_SIZE: must be between 2 and 500")
    expect(overridden).toMatchObject({ code: 0, stdout: "database is up to date\n" })
    expect(missing).toEqual({ code: 2, stdout: "", stderr: `--dotenv ${absent}: no such file\n` })
  })
})

describe("operator accounts", () => {
  it("adds, changes, lists and removes console accounts, the password from stdin; each change audited as from the command line", async () => {
    const databaseUrl = await cloneDatabase()
    const env = { DATABASE_URL: databaseUrl }
    const added = await switchboard(["operator", "add", "ada", "--role", "viewer"], env, "a long enough password\n")
    expect(added).toMatchObject({ code: 0, stdout: "created ada (viewer)\n" })
    const [stored] = await query<{ role: string; password_hash: string }>(databaseUrl, "SELECT role, password_hash FROM operators WHERE name = 'ada'")
    expect(stored?.role).toBe("viewer")
    expect(stored?.password_hash).toMatch(/^scrypt\$17\$8\$1\$/)
    expect(stored?.password_hash).not.toContain("a long enough password")

    const changed = await switchboard(["operator", "add", "ada"], env, "another long password\n")
    expect(changed).toMatchObject({ code: 0, stdout: "changed ada (admin); its sessions have ended\n" })
    const listed = await switchboard(["operator", "list"], env)
    expect(listed.code).toBe(0)
    expect(listed.stdout.split("\n")[0]).toBe("name\trole\tcreated_at\tupdated_at")
    expect(listed.stdout).toMatch(/^ada\tadmin\t/m)

    const [short, badName, badRole] = await Promise.all([
      switchboard(["operator", "add", "bob"], env, "short\n"),
      switchboard(["operator", "add", "Bob Smith"], env, "a long enough password\n"),
      switchboard(["operator", "add", "bob", "--role", "root"], env, "a long enough password\n")
    ])
    expect(short).toMatchObject({ code: 2, stderr: "the password is refused: it must be at least 12 characters\n" })
    expect(badName.code).toBe(2)
    expect(badName.stderr).toContain("an operator's name must be")
    expect(badRole.code).toBe(2)
    expect(badRole.stderr).toContain("--role must be admin or viewer")
    expect(await query(databaseUrl, "SELECT 1 FROM operators WHERE name = 'bob'")).toHaveLength(0)

    expect(await switchboard(["operator", "remove", "ada"], env)).toMatchObject({ code: 0, stdout: "removed ada; its sessions have ended\n" })
    expect(await switchboard(["operator", "remove", "ada"], env)).toMatchObject({ code: 2, stderr: "no operator ada\n" })
    const audit = await query<{ action: string; via: string; outcome: string; target: string }>(databaseUrl, "SELECT action, via, outcome, target FROM operator_audit ORDER BY id")
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([
      ["addOperator", "ok"],
      ["changeOperator", "ok"],
      ["removeOperator", "ok"],
      ["removeOperator", "refused"]
    ])
    expect(new Set(audit.map((a) => a.via))).toEqual(new Set(["cli"]))
    expect(new Set(audit.map((a) => a.target))).toEqual(new Set(["operator:ada"]))
  }, 120_000)
})
