/**
 * graphile-worker and pg-boss for the job benchmarks. They live in a package of
 * their own, bench/peers (its own package.json and lock file), so the root
 * `npm ci` leaves them out: both declare Node >= 22 and would make it warn on
 * Node 20, where they run the benchmark fine. `npm run bench:peers` installs
 * and type-checks them; `bench:jobs` and `bench:jobs:cpu` run it first. The
 * module is imported by a computed URL so the root type-check does not need them.
 */
import type { BenchSystem } from "./system.ts"

export const loadPeerSystems = async (): Promise<ReadonlyArray<() => BenchSystem>> => {
  const entry = new URL("./peers/index.ts", import.meta.url)
  try {
    return ((await import(entry.href)) as { readonly peers: ReadonlyArray<() => BenchSystem> }).peers
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") throw error
    throw new Error(`the benchmark's peers are not installed; run npm run bench:peers first (${(error as Error).message})`, { cause: error })
  }
}
