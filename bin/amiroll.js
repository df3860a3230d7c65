#!/usr/bin/env node
// The amiroll CLI: the compiled JavaScript in dist/ (npm run build; `npm install` of the package
// builds it through `prepare`). No TypeScript loader at run time.
const path = require("node:path");
let cli;
try {
  cli = require(path.join(__dirname, "..", "dist", "scripts", "amiroll.js"));
} catch (error) {
  if (error && error.code === "MODULE_NOT_FOUND" && String(error.message).includes(path.join("dist", "scripts", "amiroll.js"))) {
    console.error("amiroll: dist/ is missing: run npm run build (npm install and npm pack build it)");
    process.exit(1);
  }
  throw error;
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
