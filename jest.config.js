/** Jest: TypeScript through @swc/jest (no type checking here: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.tsx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.ts"],
  // The last reporter prints the plain "N passed, N failed" line CI reads.
  reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
};
