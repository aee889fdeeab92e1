/** `npm start`: migrate, then run this process's role until SIGINT/SIGTERM. */
import { runMain } from "./runMain.ts"
import * as Layer from "effect/Layer"
import { AppLive } from "./App.ts"

runMain(Layer.launch(AppLive))
