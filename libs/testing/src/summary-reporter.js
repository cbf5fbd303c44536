// Prints Jest's totals as one machine-readable line; .ci/run repeats it as its last line.
// Skipped tests are counted apart: a skipped suite is never reported as passing.
import { writeFileSync } from 'node:fs';

export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `${results.numPassedTests} passed, ${results.numFailedTests + results.numRuntimeErrorTestSuites} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
    process.stderr.write(`\nsscontrol tests: ${line}\n`);
    if (process.env.SSCONTROL_TEST_SUMMARY) writeFileSync(process.env.SSCONTROL_TEST_SUMMARY, `${line}\n`);
  }
}
