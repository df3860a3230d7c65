// Runs the slowest test files first, so that jest's two workers finish together. jest does that
// itself from the durations it recorded in its cache on an earlier run; a fresh clone (CI) has no
// cache, and jest then orders by file size, which started the 14 s fault matrix last and left one
// worker idle for 10 s. The committed weights (seconds, from `npm test -- --json`; refreshed with
// `node test/support/record-test-weights.js FILE`) stand in until this machine has its own.
const { default: Sequencer } = require("@jest/test-sequencer");
const { relative } = require("node:path");
const weights = require("./test-weights.json");

class SlowestFirst extends Sequencer {
  /** Milliseconds, as jest's own durations (it also runs a few files that all take under 1 s in band). */
  time(test) {
    const seconds = weights[relative(test.context.config.rootDir, test.path).split("\\").join("/")];
    return super.time(test) ?? (seconds === undefined ? undefined : seconds * 1000);
  }
}

module.exports = SlowestFirst;
