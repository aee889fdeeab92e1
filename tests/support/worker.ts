/** A worker process for process-level tests: the real engine with the test job kinds, configured by environment. */
import { runMain } from "../../src/runMain.ts"
import * as Layer from "effect/Layer"
import { DatabaseLive } from "../../infra/db/Database.ts"
import { EngineLive } from "../../supervisors/Worker.ts"
import { testCrons, testHandlers } from "./testJobs.ts"

runMain(
  Layer.launch(
    EngineLive({ role: "test-worker", handlers: testHandlers, crons: testCrons(process.env.TEST_CRON) }).pipe(Layer.provide(DatabaseLive))
  )
)
