/** A test run's temporary files all go under one directory of its own (test/support/scratch-dir.js). */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

it("gives the workers, and what they spawn, the run's scratch directory as TMPDIR", () => {
  const scratch = process.env.AMIROLL_TEST_SCRATCH;
  expect(scratch).toMatch(/amiroll-test-run-[^/]+$/);
  expect(tmpdir()).toBe(scratch);
  const made = mkdtempSync(join(tmpdir(), "amiroll-scratch-"));
  expect(dirname(made)).toBe(scratch);
  expect(existsSync(made)).toBe(true);
});
