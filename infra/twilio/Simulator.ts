/**
 * A Twilio-compatible simulator for development and tests (docs/callbacks.md
 * "The simulator"). It answers the REST calls the real twilio SDK makes for
 * Calls (create, fetch, list, update) and Messages (create, fetch) in the
 * shapes of Twilio's published OpenAPI description (tests/fixtures/twilio),
 * plays a scripted outcome per destination number, fetches a call's voice URL
 * when it is answered and executes its TwiML (keys scripted per number for
 * `<Gather>`, redirects, hang-ups, dials), and sends the status callbacks the create asked for, signed
 * the way Twilio signs them (`X-Twilio-Signature` over the callback URL) and
 * with Twilio's documented parameters. `/sim/*` lets tests script numbers,
 * inject faults and read what was sent. `switchboard simulator` runs it alone
 * (SimulatorConfig).
 *
 * This file is the entry point; the parts live in ./simulator/: Model.ts
 * (scripts, state, wire formats), CallRoutes.ts and CallQuery.ts (Calls.json),
 * CallPlayback.ts (a call's progress and its callbacks), TwimlExecution.ts and
 * Twiml.ts (what a call plays), MessageRoutes.ts
 * (Messages.json), Callbacks.ts (signed deliveries), ControlRoutes.ts (/sim/*).
 *
 * State lives in memory for the life of the server; timers are cleared when
 * it closes. Nothing here is used when real Twilio credentials are set.
 */
import * as Config from "effect/Config"
import * as Redacted from "effect/Redacted"
import { Hono } from "hono"
import { listen } from "../http/Listener.ts"
import { makeDeliver } from "./simulator/Callbacks.ts"
import { mountCalls } from "./simulator/CallRoutes.ts"
import { mountControl } from "./simulator/ControlRoutes.ts"
import { mountMessages } from "./simulator/MessageRoutes.ts"
import { makeState, restError, type SimulatorOptions } from "./simulator/Model.ts"

export { defaultScript, type NumberScript, type Outcome, type SimCall, type SimMessage, type SimulatorOptions } from "./simulator/Model.ts"

/** The credentials and port `switchboard simulator` uses unless told otherwise. */
export const SIMULATOR_ACCOUNT_SID = "AC00000000000000000000000000000000"
export const SIMULATOR_AUTH_TOKEN = "switchboard-simulator-token"
export const DEFAULT_SIMULATOR_PORT = 4010
/** A `From` for apps talking to the simulator: Twilio's magic test number that is always a valid caller ID. */
export const SIMULATOR_FROM = "+15005550006"

/** How `switchboard simulator` runs the simulator alone. */
export const SimulatorConfig = Config.all({
  port: Config.integer("SIMULATOR_PORT").pipe(
    Config.validate({ message: "SIMULATOR_PORT must be an integer from 0 to 65535 (0: any free port)", validation: (n) => n >= 0 && n <= 65_535 }),
    Config.withDefault(DEFAULT_SIMULATOR_PORT),
    Config.withDescription("port of the Twilio simulator (0: any free port, printed at start)")
  ),
  host: Config.string("SIMULATOR_HOST").pipe(Config.withDefault("127.0.0.1"), Config.withDescription("bind address of the Twilio simulator")),
  accountSid: Config.string("TWILIO_ACCOUNT_SID").pipe(
    Config.validate({ message: "TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits", validation: (text) => /^AC[0-9a-fA-F]{32}$/.test(text) }),
    Config.withDefault(SIMULATOR_ACCOUNT_SID),
    Config.withDescription("the account SID the simulator accepts")
  ),
  authToken: Config.redacted("TWILIO_AUTH_TOKEN").pipe(
    Config.withDefault(Redacted.make(SIMULATOR_AUTH_TOKEN)),
    Config.withDescription("the auth token the simulator accepts and signs callbacks with")
  )
})

export const makeSimulator = (options: SimulatorOptions) => {
  const state = makeState(options)
  const deliver = makeDeliver(state)
  const app = new Hono()
  mountCalls(app, state, deliver)
  mountMessages(app, state, deliver)
  mountControl(app, state)
  app.notFound((c) => restError(404, 20404, `The requested resource ${c.req.path} was not found`))
  return { app, close: state.close }
}

export interface RunningSimulator {
  readonly url: string
  readonly close: () => Promise<void>
}

/** Serves a simulator on `port` (0: any free port) at 127.0.0.1. */
export const startSimulator = async (options: SimulatorOptions & { readonly port: number; readonly host?: string }): Promise<RunningSimulator> => {
  const simulator = makeSimulator(options)
  const host = options.host ?? "127.0.0.1"
  const listener = await listen(simulator.app.fetch, options.port, host)
  return {
    url: `http://${host}:${listener.port}`,
    close: () => {
      simulator.close()
      return listener.close()
    }
  }
}
