/**
 * The CLI in this jest process: `main(argv)` of scripts/amiroll.ts with what it printed and its
 * exit code, as test/support/cli.ts's `amiroll` returns them from a child process, without a
 * Node start and a load of the CLI per call. What needs a real process (signals, Node's own
 * warnings, errors that cross from Node's realm into jest's) and a few smoke tests spawn the
 * built bin (./cli.ts).
 *
 * Process-global state is the caller's again when a call returns: process.env, the cwd,
 * process.stdout/stderr.write, console's methods, process.exitCode and the SIGINT, SIGTERM and
 * warning listeners. Calls must not overlap (await each).
 */
import { format } from "node:util";
import { join } from "node:path";
import { main } from "../../scripts/amiroll";
import { removeTemporaryDirectories } from "../../scripts/commands/common";
import { REPO_CONFIG, scratch } from "./cli";

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * The process events whose listeners are put back as they were after a call: the signal
 * listeners a verb adds, and "warning", whose printer --log-format json swaps for a JSON one (an
 * "exit" listener, removing temporary directories, may stay).
 */
const LISTENED = ["SIGINT", "SIGTERM", "warning"] as const;
type Listener = (...args: unknown[]) => void;

export async function amirollInProcess(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const savedExitCode = process.exitCode;
  const listeners = new Map(LISTENED.map((event) => [event, process.listeners(event as NodeJS.Signals) as Listener[]]));
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const savedConsole = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  let stdout = "";
  let stderr = "";
  const capture = (to: "stdout" | "stderr") =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      if (to === "stdout") stdout += text;
      else stderr += text;
      const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
  // As cli.ts's amiroll: CI unset (text logs), a scratch synth directory, no GitHub token.
  const runEnv: Record<string, string> = { ...savedEnv, CI: "", NODE_NO_WARNINGS: "1", AMIROLL_CONFIG: REPO_CONFIG, CDKTF_OUTDIR: join(scratch, "cdktf.out"), AMIROLL_BACKUP_DIR: join(scratch, "backups"), GITHUB_TOKEN: "", GH_TOKEN: "", ...env };
  for (const key of Object.keys(process.env)) if (!(key in runEnv)) delete process.env[key];
  Object.assign(process.env, runEnv);
  try {
    if (cwd) process.chdir(cwd);
    process.stdout.write = capture("stdout");
    process.stderr.write = capture("stderr");
    console.log = console.info = (...a: unknown[]) => void (stdout += `${format(...a)}\n`);
    console.warn = console.error = (...a: unknown[]) => void (stderr += `${format(...a)}\n`);
    const status = await main(args);
    return { status, stdout, stderr };
  } finally {
    // What the process's exit would do: the run's temporary directories go with it (left to
    // the worker's exit, hundreds of synthesized stacks made it overrun jest's grace).
    removeTemporaryDirectories();
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
    Object.assign(console, savedConsole);
    process.chdir(savedCwd);
    process.exitCode = savedExitCode;
    for (const [event, before] of listeners) {
      const now = process.listeners(event as NodeJS.Signals) as Listener[];
      for (const listener of now) if (!before.includes(listener)) process.off(event, listener);
      for (const listener of before) if (!now.includes(listener)) process.on(event, listener);
    }
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
}
