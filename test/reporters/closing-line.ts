/**
 * Ends every vitest run with the plain line CI reads: `N passed, N failed` (and `, N skipped`).
 * A test file that fails to load or whose hooks throw counts as one failure; so does each unhandled error.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class ClosingLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const testModule of testModules) {
      let failedTests = 0;
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedTests++;
        else skipped++;
      }
      // A file that fails to load, or whose hooks throw, fails even when none of its tests ran.
      failed += failedTests === 0 && testModule.state() === 'failed' ? 1 : failedTests;
    }
    process.stdout.write(
      `\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`,
    );
  }
}
