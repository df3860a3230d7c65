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

/**
 * The built CLI's `main(args)` in a fresh process, and the modules it loaded (`require.cache`)
 * whose path matches `heavy`: what a verb costs to start, as a user's run pays it.
 */
export function modulesLoadedBy(args: readonly string[], heavy: RegExp, env: Record<string, string> = {}) {
  const script = [
    "const { main } = require('./dist/scripts/amiroll.js');",
    `const heavy = new RegExp(${JSON.stringify(heavy.source)}, ${JSON.stringify(heavy.flags)});`,
    `main(${JSON.stringify(args)}).then((code) => {`,
    "  process.stderr.write(`\\nLOADED ${JSON.stringify({ code, heavy: Object.keys(require.cache).filter((f) => heavy.test(f)) })}\\n`);",
    "});",
  ].join("\n");
  const result = spawnSync(process.execPath, ["-e", script], { cwd: resolve(__dirname, "../.."), encoding: "utf8", env: { ...process.env, CI: "", AMIROLL_CONFIG: "", ...env } });
  const loaded = /\nLOADED (.*)\n/.exec(result.stderr);
  return { stdout: result.stdout, stderr: result.stderr, ...(loaded ? (JSON.parse(loaded[1]) as { code: number; heavy: string[] }) : { code: result.status ?? 1, heavy: [] }) };
}
