// Prints one plain closing line, "N passed, N failed, N skipped", after jest's own summary,
// so CI (and humans skimming a log) read the result without parsing jest's output.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const seconds = (Date.now() - results.startTime) / 1000;
    process.stdout.write(`\nwall time: ${seconds.toFixed(1)} s (this jest run, start to last result)\n`);
    const failedSuites = results.numRuntimeErrorTestSuites || 0;
    const failed = results.numFailedTests + failedSuites;
    process.stdout.write(
      `\n${results.numPassedTests} passed, ${failed} failed, ${results.numPendingTests + results.numTodoTests} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
