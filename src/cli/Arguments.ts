/**
 * The command line of `switchboard` (src/cli.ts): one usage text, and the
 * parse of argv into a command, its positional arguments and its options,
 * refusing what the command does not take. `--help`, `-h` or `help` anywhere
 * asks for the usage; `--dotenv PATH` goes with any command. (Not `--env-file`:
 * Node 20 reads that name itself even after the script, and exits when the
 * file is missing.)
 */
import * as Data from "effect/Data"

export const USAGE = `usage: switchboard [--dotenv PATH] <command> [options]
       (from a checkout: npm run switchboard -- [--dotenv PATH] <command> [options])

commands:
  start                  run everything (ROLE=all): HTTP API and job engine
  worker                 run the job engine (ROLE=worker; HTTP serves only probes, metrics and Twilio's webhooks)
  migrate                apply pending migrations and exit
  enqueue <kind> [json]  add a job of a known kind; json is its arguments (default {}), checked
          [--run-at ISO] [--priority 0-9] [--unique-key K]
  jobs                   list jobs, one per line under a header
          [--state S] [--queue Q] [--kind K] [--limit N (default 50)]
  operator add <name>    create an operator account for the console, or change its role and password
          [--role admin|viewer (default admin)]   (the password is read from stdin: typed hidden, or piped)
  operator remove <name> remove an account; its sessions end
  operator list          list the accounts
  simulator              run the Twilio simulator alone on SIMULATOR_HOST:SIMULATOR_PORT (127.0.0.1:4010);
                         refused when NODE_ENV=production
  help                   print this text

options:
  --dotenv PATH          read variables from PATH first (KEY=value lines, as in .env.example);
                         a variable already set in the environment wins
  -h, --help             print this text

Everything else is configured by environment variables (see README.md, .env.example).
Exit status: 0 done, 1 failed, 2 a usage error or refused input.`

/** The command line is not one this program takes: says why, then the usage, and exits 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** What each command takes: how many positional arguments, and which options (each with a value). */
const COMMANDS: Readonly<Record<string, { readonly positional: readonly [min: number, max: number]; readonly options: ReadonlyArray<string> }>> = {
  start: { positional: [0, 0], options: [] },
  worker: { positional: [0, 0], options: [] },
  migrate: { positional: [0, 0], options: [] },
  enqueue: { positional: [1, 2], options: ["run-at", "priority", "unique-key"] },
  jobs: { positional: [0, 0], options: ["state", "queue", "kind", "limit"] },
  operator: { positional: [1, 2], options: ["role"] },
  simulator: { positional: [0, 0], options: [] }
}

export type CommandLine =
  | { readonly _tag: "Help" }
  | {
      readonly _tag: "Run"
      readonly command: string
      readonly positional: ReadonlyArray<string>
      readonly options: ReadonlyMap<string, string>
      readonly envFile: string | undefined
    }

const isHelp = (arg: string) => arg === "--help" || arg === "-h"

/** Reads argv (without node and the script); throws a `UsageError` saying what is wrong. */
export const parseCommandLine = (argv: ReadonlyArray<string>): CommandLine => {
  if (argv.some(isHelp)) return { _tag: "Help" }
  const positional: Array<string> = []
  const options = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (arg === "--") {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg)
      continue
    }
    if (!arg.startsWith("--")) throw new UsageError({ message: `unknown option ${arg}` })
    const equals = arg.indexOf("=")
    const name = arg.slice(2, equals === -1 ? undefined : equals)
    const value = equals === -1 ? argv[++i] : arg.slice(equals + 1)
    if (value === undefined || (equals === -1 && value.startsWith("--"))) throw new UsageError({ message: `--${name} needs a value` })
    if (options.has(name)) throw new UsageError({ message: `--${name} is given twice` })
    options.set(name, value)
  }
  const [command, ...rest] = positional
  if (command === "help") return { _tag: "Help" }
  if (command === undefined) throw new UsageError({ message: "no command given" })
  const spec = COMMANDS[command]
  if (spec === undefined) throw new UsageError({ message: `unknown command ${command}` })
  for (const name of options.keys()) {
    if (name !== "dotenv" && !spec.options.includes(name)) {
      throw new UsageError({ message: `unknown option --${name} for ${command}${spec.options.length === 0 ? "" : ` (it takes ${spec.options.map((o) => `--${o}`).join(", ")})`}` })
    }
  }
  const [min, max] = spec.positional
  if (rest.length < min) throw new UsageError({ message: `${command} needs ${min === 1 ? "an argument" : `${min} arguments`}` })
  if (rest.length > max) throw new UsageError({ message: `${command} takes ${max === 0 ? "no arguments" : `at most ${max}`}: ${rest.slice(max).join(" ")}` })
  const { dotenv: envFile, ...commandOptions } = Object.fromEntries(options)
  return { _tag: "Run", command, positional: rest, options: new Map(Object.entries(commandOptions)), envFile }
}
