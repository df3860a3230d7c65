// Jest globalSetup: the CLI tests run bin/amiroll.js, which runs dist/. Rebuild dist/ when a
// source is newer than the last build (npm ci's `prepare` builds it, so CI pays nothing here).
const { execFileSync } = require("node:child_process");
const { existsSync, readdirSync, statSync } = require("node:fs");
const { join } = require("node:path");

const ROOT = join(__dirname, "../..");
const STAMP = join(ROOT, "dist/.tsbuildinfo");

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

module.exports = function buildDist() {
  const sources = ["constructs", "scripts", "package.json", "tsconfig.json", "tsconfig.build.json"].map((p) => join(ROOT, p));
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs >= Math.max(...sources.map(newest))) return;
  process.stdout.write("\nbuilding dist/ for the CLI tests (sources changed since the last npm run build)\n");
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
};
