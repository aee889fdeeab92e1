// The browser tests (tests/browser): Debian's Chromium driven by playwright-core against the
// whole app. Not part of `npm test` (which needs only Node and npm); run by `npm run test:browser`
// and by .ci/run as its own step.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/browser/**/*.test.ts"],
    globalSetup: ["tests/support/globalSetup.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    reporters: ["default"]
  }
})
