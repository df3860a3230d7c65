/**
 * Runs terraform for one synthesized stack. The driver talks to terraform only through
 * `TerraformRunner`, so `--simulate` and the tests pass the sim's stand-in instead; the real one
 * is `TerraformCli`.
 */
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { StalePlanError, TerraformError, UsageError } from "../core/errors";
import { providerSource, providerSourceNotice } from "./plugins";
import { formatDuration } from "../core/duration";

/** What the driver needs from terraform, real or simulated. */
export interface TerraformRunner {
  init(): Promise<void>;
  /** Plans into `planFile`; resolves whether anything would change. */
  plan(planFile: string): Promise<{ readonly changes: boolean }>;
  /** `terraform show -json planFile`, as parsed JSON (checked by plan.ts's `parsePlan`). */
  showJson(planFile: string): Promise<unknown>;
  apply(planFile: string): Promise<void>;
  /** `terraform output -json`. */
  output(): Promise<Record<string, { readonly value: unknown; readonly sensitive: boolean }>>;
  /** `terraform state pull`: the state as the backend holds it (JSON text); "" when there is none yet. */
  statePull(): Promise<string>;
  /**
   * `terraform state push FILE`: replaces the backend's state with FILE's. terraform refuses a
   * state of another lineage, or one whose serial is lower than the backend's (never forced here).
   */
  statePush(file: string): Promise<void>;
}

/**
 * A synthesized stack and the runner that plans and applies it: what the rollout needs of one
 * (commands/stack.ts adds the simulated world with `--simulate`).
 */
export interface TerraformStack {
  readonly runner: TerraformRunner;
  /** The stack's synthesized directory (terraform's working directory). */
  readonly directory: string;
}

// ---------------------------------------------------------------------------------------------
// The real runner: terraform (or OpenTofu) as a subprocess.
// ---------------------------------------------------------------------------------------------

/** The terraform subcommands the runner runs. */
export type TerraformCommand = "init" | "validate" | "plan" | "show" | "apply" | "output" | "state";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** How long each command may run before it is interrupted. apply waits for the drains. */
export const DEFAULT_TIMEOUTS: Readonly<Record<TerraformCommand, number>> = {
  init: 10 * MINUTE,
  validate: 2 * MINUTE,
  plan: 20 * MINUTE,
  show: 2 * MINUTE,
  output: 2 * MINUTE,
  apply: 3 * HOUR,
  state: 5 * MINUTE,
};

/**
 * How long terraform may take to stop after SIGINT before it gets SIGTERM (and SIGKILL
 * `KILL_AFTER_TERM_MS` later). An interrupted apply finishes the resource operations in flight and
 * writes the state; killing it early loses state, so it gets long.
 */
export const DEFAULT_INTERRUPT_GRACE: Readonly<Record<TerraformCommand, number>> = {
  init: 30 * SECOND,
  validate: 30 * SECOND,
  plan: 30 * SECOND,
  show: 30 * SECOND,
  output: 30 * SECOND,
  apply: 10 * MINUTE,
  state: 30 * SECOND,
};

/** Why a command was interrupted when the caller's signal aborted it (not a timeout). */
const INTERRUPTED = "interrupted";

/** After SIGTERM, how long until SIGKILL. */
const KILL_AFTER_TERM_MS = 10 * SECOND;

/** What terraform is told so it neither prompts, nor colours, nor phones home. */
const AUTOMATION_ENV = { TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" } as const;

export interface TerraformCliOptions {
  /** terraform or OpenTofu; default AMIROLL_TERRAFORM, else `terraform` on PATH. */
  readonly binary?: string;
  /** The synthesized stack's directory (terraform's working directory). */
  readonly workingDirectory: string;
  /**
   * `init -plugin-dir` (offline, from a local mirror). Default (plugins.ts, `providerSource`):
   * AMIROLL_TF_PLUGIN_DIR; else a local mirror of the provider, if one is found (and `notice`
   * says so); else none: terraform gets the provider from the registry.
   */
  readonly pluginDir?: string;
  /** Gets the runner's own notes for the user (the provider mirror it found). */
  readonly notice?: (message: string) => void;
  /** false: `init -backend=false` (local state only, e.g. to validate). Default true. */
  readonly backend?: boolean;
  /** `init -backend-config=KEY=VALUE` each (ignored with `backend: false`). */
  readonly backendConfig?: Readonly<Record<string, string>>;
  /** Extra environment (e.g. AWS_PROFILE); an undefined value unsets the variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Per-command time limits in ms (defaults `DEFAULT_TIMEOUTS`). */
  readonly timeouts?: Partial<Record<TerraformCommand, number>>;
  /** Per-command ms between SIGINT and SIGTERM (defaults `DEFAULT_INTERRUPT_GRACE`). */
  readonly interruptGrace?: Partial<Record<TerraformCommand, number>>;
  /** Gets every line terraform prints, as it prints it (stdout of show/output excepted: that is the JSON). */
  readonly log?: (line: string, stream: "stdout" | "stderr") => void;
  /** Aborting it interrupts the running command gracefully (SIGINT) and fails it. */
  readonly signal?: AbortSignal;
}

/** Notices given, so that a rollout's many stacks say it once. */
const noticed = new Set<string>();

/**
 * `TerraformRunner` running terraform (or OpenTofu) in a stack's directory: never prompting
 * (`-input=false`, TF_INPUT=0), without colour, failing with `TerraformError`s whose reason is
 * terraform's one-line error summary.
 *
 * terraform runs in its own process group, so a Ctrl-C on the terminal reaches amiroll only;
 * amiroll (through `signal`) sends terraform exactly one SIGINT, which it takes as "stop
 * gracefully" (a second one would make it stop at once and lose state).
 */
export class TerraformCli implements TerraformRunner {
  readonly binary: string;
  readonly workingDirectory: string;

  constructor(private readonly options: TerraformCliOptions) {
    this.binary = options.binary || process.env.AMIROLL_TERRAFORM || "terraform";
    this.workingDirectory = resolve(options.workingDirectory);
  }

  /** The plugin dir for `init`: the option, else `providerSource`'s (noted once per process when it is a mirror found by looking). */
  private pluginDir(): string | undefined {
    if (this.options.pluginDir) return this.options.pluginDir;
    const source = providerSource(process.env);
    const notice = providerSourceNotice(source);
    if (notice && !noticed.has(notice)) {
      noticed.add(notice);
      this.options.notice?.(notice);
    }
    return source.pluginDir;
  }

  async init(): Promise<void> {
    const args = ["-input=false", "-no-color"];
    if (this.options.backend === false) args.push("-backend=false");
    else for (const [key, value] of Object.entries(this.options.backendConfig ?? {})) args.push(`-backend-config=${key}=${value}`);
    const pluginDir = this.pluginDir();
    if (pluginDir) args.push(`-plugin-dir=${pluginDir}`);
    await this.run("init", args);
  }

  /** `terraform validate` (after `init`). */
  async validate(): Promise<void> {
    await this.run("validate", ["-no-color"]);
  }

  /** Plans into `planFile` (relative paths are relative to the working directory). */
  async plan(planFile: string): Promise<{ readonly changes: boolean }> {
    // -detailed-exitcode: 0 no changes, 1 error, 2 changes.
    const { exitCode } = await this.run("plan", ["-input=false", "-no-color", `-out=${planFile}`, "-detailed-exitcode"], { ok: [0, 2] });
    return { changes: exitCode === 2 };
  }

  async showJson(planFile: string): Promise<unknown> {
    const { stdout } = await this.run("show", ["-json", "-no-color", planFile], { logStdout: false });
    return parseJson("show", stdout);
  }

  /** Applies a saved plan: terraform does not prompt for one, so no -auto-approve. */
  async apply(planFile: string): Promise<void> {
    await this.run("apply", ["-input=false", "-no-color", planFile]);
  }

  async output(): Promise<Record<string, { readonly value: unknown; readonly sensitive: boolean }>> {
    const { stdout } = await this.run("output", ["-json", "-no-color"], { logStdout: false });
    const outputs = parseJson("output", stdout);
    if (typeof outputs !== "object" || outputs === null || Array.isArray(outputs)) {
      throw new TerraformError("output", "printed JSON that is not an object of outputs");
    }
    return outputs as Record<string, { readonly value: unknown; readonly sensitive: boolean }>;
  }

  /** `terraform state pull` (stdout is the state, not logged); "" when the backend holds no state yet. */
  async statePull(): Promise<string> {
    const { stdout } = await this.run("state", ["pull"], { logStdout: false });
    return stdout;
  }

  /** `terraform state push FILE` (relative paths are relative to the working directory); never `-force`. */
  async statePush(file: string): Promise<void> {
    await this.run("state", ["push", file]);
  }

  private async run(
    command: TerraformCommand,
    args: readonly string[],
    { ok = [0], logStdout = true }: { ok?: readonly number[]; logStdout?: boolean } = {},
  ): Promise<{ exitCode: number; stdout: string }> {
    const { signal, log } = this.options;
    // As errors name it: `terraform state pull`, not `terraform state`.
    const shown = command === "state" ? `${command} ${args[0]}` : command;
    if (signal?.aborted) throw new TerraformError(shown, "interrupted before it started", undefined, true);
    if (!isDirectory(this.workingDirectory)) {
      throw new UsageError(`terraform working directory ${this.workingDirectory} does not exist; synthesize the stacks first (npm run synth)`);
    }
    const subprocess = startProcess(this.binary, [command, ...args], {
      cwd: this.workingDirectory,
      env: { ...process.env, ...this.options.env, ...AUTOMATION_ENV },
      onLine: log ? (line, stream) => (stream === "stderr" || logStdout) && log(line, stream) : undefined,
    });

    const timeoutMs = this.options.timeouts?.[command] ?? DEFAULT_TIMEOUTS[command];
    const graceMs = this.options.interruptGrace?.[command] ?? DEFAULT_INTERRUPT_GRACE[command];
    let interruption: string | undefined;
    let forced: NodeJS.Signals | undefined;
    const timers: NodeJS.Timeout[] = [];
    const signalGroup = (sig: NodeJS.Signals) => {
      forced = sig;
      try {
        // The whole group: terraform's provider plugins go too.
        if (subprocess.pid !== undefined && process.platform !== "win32") process.kill(-subprocess.pid, sig);
        else subprocess.kill(sig);
      } catch {
        // already gone
      }
    };
    const interrupt = (why: string) => {
      if (interruption !== undefined) return;
      interruption = why;
      subprocess.kill("SIGINT");
      timers.push(
        setTimeout(() => {
          signalGroup("SIGTERM");
          timers.push(setTimeout(() => signalGroup("SIGKILL"), KILL_AFTER_TERM_MS));
        }, graceMs),
      );
    };
    const onAbort = () => interrupt(INTERRUPTED);
    signal?.addEventListener("abort", onAbort, { once: true });
    timers.push(setTimeout(() => interrupt(`timed out after ${formatDuration(timeoutMs)}`), timeoutMs));

    let result: ProcessResult;
    try {
      result = await subprocess.done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      for (const timer of timers) clearTimeout(timer);
    }

    const stdout = String(result.stdout ?? "");
    const stderr = String(result.stderr ?? "");
    if (result.spawnError && (result.spawnError.code === "ENOENT" || result.spawnError.code === "EACCES")) {
      throw new UsageError(
        `cannot run terraform binary "${this.binary}" (${result.spawnError.code === "ENOENT" ? "not found" : "not executable"}); install terraform or OpenTofu, or set AMIROLL_TERRAFORM`,
      );
    }
    // A command that succeeded as it was being interrupted did its work: report that.
    if (result.exitCode !== undefined && ok.includes(result.exitCode)) return { exitCode: result.exitCode, stdout };
    if (interruption !== undefined) {
      const how = forced
        ? `terraform did not stop within ${formatDuration(graceMs)} of SIGINT and was sent ${forced}`
        : "terraform stopped after SIGINT";
      // The signal's interruption is the caller's (Ctrl-C); a timeout's is terraform's failure.
      throw new TerraformError(shown, `${interruption} (${how})`, undefined, interruption === INTERRUPTED);
    }
    if (/Saved plan is stale/i.test(stderr)) throw new StalePlanError(shown);
    if (result.exitCode === undefined) {
      throw new TerraformError(shown, result.signal ? `killed by ${result.signal}` : `failed to run: ${result.spawnError?.message ?? "unknown error"}`);
    }
    throw new TerraformError(shown, errorSummary(stderr) ?? `exited with code ${result.exitCode}`, result.exitCode);
  }
}

/**
 * terraform's first `Error: SUMMARY` line (the "│ " box terraform draws around diagnostics
 * removed), as SUMMARY, whole (a provider's summary can be long, its point at the end); else
 * the last non-empty line, cut to 500 characters; undefined when `stderr` is blank.
 */
export function errorSummary(stderr: string): string | undefined {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.replace(/^\s*[│╷╵]\s?/, "").trim())
    .filter((line) => line !== "");
  const error = lines.find((line) => /^Error:\s*\S/.test(line));
  if (error) return error.replace(/^Error:\s*/, "");
  const last = lines.at(-1);
  return last && last.length > 500 ? `${last.slice(0, 499)}…` : last;
}

function parseJson(command: TerraformCommand, stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch (error) {
    throw new TerraformError(command, `printed no valid JSON (${(error as Error).message})`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}


/** How a subprocess ended, with everything it printed. */
interface ProcessResult {
  /** Its exit code; undefined when a signal ended it or it never started. */
  readonly exitCode?: number;
  readonly signal?: NodeJS.Signals;
  /** Why it never started (ENOENT, EACCES, ...). */
  readonly spawnError?: NodeJS.ErrnoException;
  /** What it printed, without the final newline. */
  readonly stdout: string;
  readonly stderr: string;
}

interface RunningProcess {
  readonly pid: number | undefined;
  kill(signal: NodeJS.Signals): void;
  readonly done: Promise<ProcessResult>;
}

/**
 * Starts `binary` with stdin closed and its output captured, each line handed to `onLine` as it
 * comes. In its own process group (not on Windows), so a terminal's Ctrl-C reaches amiroll only.
 */
function startProcess(
  binary: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; onLine?: (line: string, stream: "stdout" | "stderr") => void },
): RunningProcess {
  const child = spawn(binary, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: process.platform !== "win32" });
  const output = { stdout: "", stderr: "" };
  const pending = { stdout: "", stderr: "" };
  const emitLines = (stream: "stdout" | "stderr", final: boolean) => {
    const lines = pending[stream].split("\n");
    pending[stream] = final ? "" : lines.pop()!;
    if (final && lines.at(-1) === "") lines.pop();
    for (const line of lines) options.onLine!(line.endsWith("\r") ? line.slice(0, -1) : line, stream);
  };
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream].setEncoding("utf8").on("data", (chunk: string) => {
      output[stream] += chunk;
      if (!options.onLine) return;
      pending[stream] += chunk;
      emitLines(stream, false);
    });
  }
  const done = new Promise<ProcessResult>((resolveDone) => {
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once("error", (error: NodeJS.ErrnoException) => {
      spawnError = error;
      // A process that never started emits no "close" on some Node versions.
      if (child.pid === undefined) finish(null, null);
    });
    let finished = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      if (options.onLine) for (const stream of ["stdout", "stderr"] as const) emitLines(stream, true);
      resolveDone({
        exitCode: code ?? undefined,
        signal: signal ?? undefined,
        spawnError,
        stdout: output.stdout.replace(/\r?\n$/, ""),
        stderr: output.stderr.replace(/\r?\n$/, ""),
      });
    };
    child.once("close", finish);
  });
  return {
    pid: child.pid,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
    done,
  };
}
