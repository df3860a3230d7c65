/**
 * `npm run test:wire`: amiroll over the wire against moto (test/wire/), kept out of `npm test`
 * (its time budget): one moto server and one terraform init per file; CI runs it after the
 * consumer test. See docs/testing.md.
 */
const base = require("./jest.config.js");
module.exports = {
  ...base,
  testMatch: ["**/test/wire/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/"],
};
