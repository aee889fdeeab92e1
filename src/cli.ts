/**
 * `switchboard <command>` (run as `npm run switchboard -- <command>`); the
 * commands, their options and exit statuses are in the usage text
 * (src/cli/Arguments.ts), printed by `--help`, `-h` or `help`. The command
 * line is read before anything else is loaded, so the usage and its errors are
 * immediate; the commands (src/cli/Commands.ts) load the application.
 */
import { parseCommandLine, USAGE, UsageError } from "./cli/Arguments.ts"

const read = () => {
  try {
    return parseCommandLine(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`${error.message}\n\n${USAGE}`)
    process.exitCode = 2
    return undefined
  }
}

const line = read()
if (line?._tag === "Help") console.log(USAGE)
else if (line !== undefined) (await import("./cli/Commands.ts")).runCommand(line)
