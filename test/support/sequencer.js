// Runs the slowest test files first, so that jest's two workers finish together. jest does that
// itself from the durations it recorded in its cache on an earlier run; a fresh clone (CI) has no
// cache, and jest then orders by file size, which started the 14 s fault matrix last and left one
// worker idle for 10 s. The committed weights (seconds, from `npm test -- --json`; refreshed with
// `node test/support/record-test-weights.js FILE`) stand in until this machine has its own.
const { default: Sequencer } = require("@jest/test-sequencer");
const { relative } = require("node:path");
const weights = require("./test-weights.json");

class SlowestFirst extends Sequencer {
  time(test) {
    return super.time(test) ?? weights[relative(test.context.config.rootDir, test.path).split("\\").join("/")];
  }
}

module.exports = SlowestFirst;
