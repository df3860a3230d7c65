/** `npm run test:consumer`: the packed package installed in an empty project (see test/consumer/). */
const base = require("./jest.config.js");
module.exports = {
  ...base,
  testMatch: ["**/test/consumer/*.consumer.ts"],
  globalSetup: undefined,
  setupFilesAfterEnv: [],
};
