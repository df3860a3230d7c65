// Jest globalSetup and globalTeardown: every temporary directory of a run (the tests' mkdtemp,
// the CLI's, terraform's, moto's) goes under one directory of the run's own, removed when the
// run ends, instead of hundreds left in the machine's /tmp. Workers start after globalSetup, so
// they and every process they spawn inherit its TMPDIR.
const { mkdtempSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");

const VARIABLE = "AMIROLL_TEST_SCRATCH";

function create() {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-test-run-"));
  process.env[VARIABLE] = dir;
  process.env.TMPDIR = dir;
  return dir;
}

function remove() {
  const dir = process.env[VARIABLE];
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

module.exports = { create, remove };
