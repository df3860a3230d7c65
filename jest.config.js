/** Jest: TypeScript through @swc/jest (no type checking here: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: "node",
  // Every core: most files wait on child processes (the CLI, terraform), so two workers on two
  // cores overlap them (jest's default, cores - 1, runs one file at a time here).
  maxWorkers: "100%",
  // A simulated roll takes seconds of CPU; on a busy 2-core machine jest's 5 s default is a flake.
  testTimeout: 30_000,
  // A worker ends as soon as jest asks (its event loop is empty within a millisecond), but the
  // process then frees a heap of up to a gigabyte, which on a busy 2-core machine can take longer
  // than jest's 500 ms default, and jest would kill it ("failed to exit gracefully").
  workerGracefulExitTimeout: 5_000,
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // test/wire/ runs apart: `npm run test:wire` (jest.wire.config.js).
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/wire/"],
  transform: { "^.+\\.tsx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  // Slowest files first, also on a fresh clone with no jest cache (test/support/sequencer.js).
  testSequencer: "<rootDir>/test/support/sequencer.js",
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.ts"],
  // jest-runtime, less what each file of a worker paid again: compiling the same modules, and
  // every earlier file's AsyncLocalStorage hook on every promise (test/support/runtime.js).
  // AMIROLL_JEST_RUNTIME=jest runs jest's own, for `npm run bench:tests` to compare.
  ...(process.env.AMIROLL_JEST_RUNTIME !== "jest" && { runtime: "<rootDir>/test/support/runtime.js" }),
  // The CLI tests run the built CLI (bin/amiroll.js -> dist/): rebuilt first when stale. Every
  // temporary directory of the run goes under one of its own, removed at the end.
  globalSetup: "<rootDir>/test/support/global-setup.js",
  globalTeardown: "<rootDir>/test/support/global-teardown.js",
  // The package's own name resolves to its sources, as tsconfig.json's "paths" say.
  moduleNameMapper: { "^amiroll$": "<rootDir>/constructs/index.ts", "^amiroll/config$": "<rootDir>/scripts/config/index.ts" },
  // The last reporter prints the plain "N passed, N failed" line CI reads.
  reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
};
