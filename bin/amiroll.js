#!/usr/bin/env node
// The amiroll CLI: TypeScript run through tsx's loader, so there is no build step to forget.
require("tsx/cjs");
require("../scripts/amiroll.ts")
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
