// Jest globalSetup: dist/ rebuilt when stale (the CLI tests run it), and the run's scratch directory.
const buildDist = require("./build-dist");
const scratch = require("./scratch-dir");

module.exports = function globalSetup() {
  buildDist();
  scratch.create();
};
