/** The systems the job benchmarks measure Switchboard against (loaded by bench/peerSystems.ts). */
import type { BenchSystem } from "../system.ts"
import { graphileWorker } from "./graphileWorker.ts"
import { pgBoss } from "./pgBoss.ts"

export const peers: ReadonlyArray<() => BenchSystem> = [graphileWorker, pgBoss]
