/** An application process for process-level tests: the real app (HTTP, engine) with the test job kinds, configured by environment. */
import { runMain } from "../../src/runMain.ts"
import * as Layer from "effect/Layer"
import { makeApp } from "../../src/App.ts"
import { testCrons, testHandlers } from "./testJobs.ts"

runMain(Layer.launch(makeApp({ handlers: testHandlers, crons: testCrons(process.env.TEST_CRON) })))
