import { configDefaults, defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "tests/browser/**"], // Chromium: npm run test:browser (vitest.browser.config.ts)
    globalSetup: ["tests/support/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default", "./tests/support/summaryReporter.ts"]
  }
})
