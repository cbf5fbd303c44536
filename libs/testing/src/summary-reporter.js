// Prints Jest's totals as one line and, for .ci/run, writes them to SSCONTROL_TEST_SUMMARY.
// Skipped tests are counted apart: a skipped suite is never reported as passing.
import { writeFileSync } from 'node:fs';

export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const summary = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    process.stderr.write(
      `\nsscontrol tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped\n`,
    );
    if (process.env.SSCONTROL_TEST_SUMMARY)
      writeFileSync(process.env.SSCONTROL_TEST_SUMMARY, JSON.stringify(summary));
  }
}
