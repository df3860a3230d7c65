// Jest globalTeardown: the run's scratch directory goes (test/support/scratch-dir.js).
module.exports = function globalTeardown() {
  require("./scratch-dir").remove();
};
