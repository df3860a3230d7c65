/** bin/amiroll.js as a user runs it: a child process, with what it printed and its exit code. */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const BIN = resolve(__dirname, "../../bin/amiroll.js");
/** This repository's config (stacks/amiroll.json): the CLI finds it through AMIROLL_CONFIG. */
export const REPO_CONFIG = resolve(__dirname, "../../stacks/amiroll.json");
/** A scratch directory per test file. */
export const scratch = mkdtempSync(join(tmpdir(), "amiroll-cli-"));

export function amiroll(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    cwd,
    // CI unset: text logs; a scratch synth directory so tests never write into the repository.
    env: { ...process.env, CI: "", NODE_NO_WARNINGS: "1", AMIROLL_CONFIG: REPO_CONFIG, CDKTF_OUTDIR: join(scratch, "cdktf.out"), AMIROLL_BACKUP_DIR: join(scratch, "backups"), GITHUB_TOKEN: "", GH_TOKEN: "", ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** stderr without the lines of progress: what a user sees as the error. */
export const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("amiroll:"));
