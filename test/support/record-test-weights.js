// Writes test/support/test-weights.json (each test file's duration, in seconds) from a jest
// `--json --outputFile FILE` run, for the sequencer's order on a machine with no jest cache.
const { readFileSync, writeFileSync } = require("node:fs");
const { join, relative } = require("node:path");

const file = process.argv[2];
if (!file) {
  console.error("usage: node test/support/record-test-weights.js JEST_JSON (from: npx jest --json --outputFile JEST_JSON)");
  process.exit(2);
}
const root = join(__dirname, "..", "..");
const weights = Object.fromEntries(
  JSON.parse(readFileSync(file, "utf8"))
    .testResults.map((r) => [relative(root, r.name).split("\\").join("/"), Math.round((r.endTime - r.startTime) / 100) / 10])
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
);
writeFileSync(join(__dirname, "test-weights.json"), `${JSON.stringify(weights, null, 2)}\n`);
console.log(`${Object.keys(weights).length} test files weighed`);
