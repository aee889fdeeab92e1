/** Ends the run with one plain line, `N passed, N failed, N skipped`, that any CI can read. */
import type { Reporter, TestModule } from "vitest/node"

export default class SummaryReporter implements Reporter {
  private line = ""

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>) {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
      if (module.state() === "failed" && [...module.children.allTests()].length === 0) failed++ // a file that failed to load
    }
    failed += errors.length
    this.line = `${passed} passed, ${failed} failed, ${skipped} skipped`
  }

  // Printed from the last hook, after the default reporter's own summary.
  onFinished() {
    if (this.line !== "") process.stdout.write(`\n${this.line}\n`)
  }
}
