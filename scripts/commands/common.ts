/**
 * What every verb shares: the options of DESIGN.md's CLI contract, loading config and pins,
 * where logs go (stderr; the logger itself is core/log.ts), and how a verb ends with an exit code.
 */
import { accessSync, constants, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { UsageError } from "../core/errors";
import { LOG_FORMATS, type LogFormat, type LogSink, type Logger } from "../core/log";
import { SCENARIOS, type ScenarioName } from "../sim/scenario-list";
import type { Environment } from "../config/environments";
import { type Config, findEnvironment, loadConfig as loadConfigFile, shownPath } from "../config/file";

/** Exit codes of every verb (README, "Exit codes"; docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The operation failed or was rolled back. */
  failed: 1,
  /** Bad input or usage; nothing was changed. */
  badInput: 2,
  /** The plan guard refused the plan. */
  guardRefused: 3,
  /** Interrupted (Ctrl-C, SIGTERM): nothing rejected; the same command resumes. The shell's code for SIGINT. */
  interrupted: 130,
} as const;

/** Thrown by a verb that has printed its result and ends with this exit code (not an error). */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = "Exit";
  }
}

export interface CommonOptions {
  /** `--config FILE`: the amiroll.json to use instead of the nearest one. */
  readonly config?: string;
  readonly simulate?: boolean;
  readonly scenario?: ScenarioName;
  readonly logFormat: LogFormat;
}

/** Adds `--simulate [--scenario NAME]` and `--log-format` to a verb. */
export function withCommonOptions(command: Command): Command {
  return command
    .option("--config <file>", "the amiroll.json to use (default: AMIROLL_CONFIG, else the nearest amiroll.json from the current directory up)")
    .option("--simulate", "run against the simulated AWS seeded from the environments config (no AWS account needed)")
    .addOption(new Option("--scenario <name>", "the simulated world's scenario (with --simulate)").choices(Object.keys(SCENARIOS)))
    .addOption(logFormatOption())
    .hook("preAction", (verb) => {
      const options = verb.opts<CommonOptions>();
      if (options.scenario && !options.simulate) throw new UsageError("--scenario needs --simulate (it picks the simulated world's scenario)");
    });
}

export type { Config };

/** The config (`--config`, AMIROLL_CONFIG or the nearest amiroll.json) and its pins; exit 2 when either is wrong. */
export function loadConfig(options: Pick<CommonOptions, "config"> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigFile({ config: options.config, env });
}

export { findEnvironment };

/**
 * The CLI's stderr, where every verb logs (stdout carries only a verb's result): a terminal gets
 * live progress fitted to its width.
 */
export const stderrSink: LogSink = {
  write: (text) => void process.stderr.write(text),
  get isTTY() {
    return process.stderr.isTTY === true;
  },
  get columns() {
    return process.stderr.columns ?? process.stdout.columns;
  },
};

/** `--log-format`: every verb has it (init and guard, which take no --simulate, add it alone). */
export function logFormatOption(): Option {
  return new Option("--log-format <format>", "progress as text, or one JSON object per line").choices(LOG_FORMATS).default(defaultLogFormat());
}

/** `--log-format`'s default: JSON in CI (CI set), else text. */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  return env.CI ? "json" : "text";
}

/**
 * The log format `argv` asks for (`--log-format F` or `--log-format=F`, the last one, before any
 * `--`), else the default: what the verb will use, known before commander parses, so that the
 * CLI can report even a usage error in that format.
 */
export function requestedLogFormat(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): LogFormat {
  let format: LogFormat = defaultLogFormat(env);
  for (let i = 0; i < argv.length && argv[i] !== "--"; i++) {
    const value = argv[i] === "--log-format" ? argv[i + 1] : argv[i].startsWith("--log-format=") ? argv[i].slice("--log-format=".length) : undefined;
    if (value !== undefined && (LOG_FORMATS as readonly string[]).includes(value)) format = value as LogFormat;
  }
  return format;
}

/**
 * For `--log-format json`: commander's own stderr as JSON lines too. Its usage error is left to
 * the CLI, which reports it as the final error with the exit code (scripts/amiroll.ts,
 * `exitCodeOf`); the "(run amiroll --help for usage)" hint is dropped; help shown as an error is
 * an info line. Applies to `program` and every verb in it.
 */
export function commanderOutputAsJson(program: Command, log: Logger): void {
  program.showHelpAfterError(false).configureOutput({ outputError: () => undefined, writeErr: (text) => log.info(text.trimEnd(), { source: "commander" }) });
  for (const verb of program.commands) commanderOutputAsJson(verb, log);
}

/**
 * Ctrl-C or SIGTERM: the signal aborts; the runner forwards one SIGINT so that terraform stops
 * gracefully (it never kills an apply), and the verb stops at its next step (`rollout` ends
 * "interrupted", exit 130, nothing rejected: the same command resumes). Only the first signal:
 * a second one ends the process at once (exit 130). Call the returned function when done.
 */
export function interruptible(log: Logger): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const stop = () => {
    log.warn("interrupted: asking terraform to stop gracefully (it finishes the operations in flight and saves its state)");
    controller.abort();
  };
  onSignal = stop;
  listenForSignals();
  return {
    signal: controller.signal,
    done: () => {
      if (onSignal === stop) onSignal = undefined;
      if (temporaryDirectories.size === 0) stopListeningForSignals();
    },
  };
}

/** What the next SIGINT or SIGTERM does: the verb's (`interruptible`), once. */
let onSignal: (() => void) | undefined;
let listening = false;

/**
 * One listener for both signals while a verb is interruptible or temporary directories exist:
 * the first signal goes to the verb; one that no verb takes (before the verb set up, or a second
 * Ctrl-C) ends the process with exit 130, whose exit handler removes the directories. Otherwise
 * Node's default (the process dies of the signal) stands.
 */
function dispatchSignal(signal: NodeJS.Signals): void {
  const verb = onSignal;
  onSignal = undefined;
  if (verb) return verb();
  process.stderr.write(`amiroll: interrupted (${signal})\n`);
  process.exit(EXIT.interrupted);
}

function listenForSignals(): void {
  if (listening) return;
  listening = true;
  process.on("SIGINT", dispatchSignal);
  process.on("SIGTERM", dispatchSignal);
}

function stopListeningForSignals(): void {
  listening = false;
  process.off("SIGINT", dispatchSignal);
  process.off("SIGTERM", dispatchSignal);
}

/** The temporary directories of this process (simulated runs), removed when it exits. */
const temporaryDirectories = new Set<string>();

/**
 * A new temporary directory `<TMPDIR>/<prefix>XXXXXX`, removed with everything in it when the
 * process exits: at the end of the verb, on an error, and on Ctrl-C or SIGTERM (a signal that no
 * verb takes ends the process with exit 130, so that the directory still goes).
 */
export function temporaryDirectory(prefix: string): string {
  if (temporaryDirectories.size === 0) process.once("exit", removeTemporaryDirectories);
  listenForSignals();
  const directory = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirectories.add(directory);
  return directory;
}

/** Removes every temporary directory made so far (at exit; the in-process test runner's end of a run too). */
export function removeTemporaryDirectories(): void {
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
  temporaryDirectories.clear();
  // Nothing left to remove and no verb listening: the signals are Node's again (in process, the
  // next verb then listens afresh instead of believing a listener its caller removed is still there).
  if (onSignal === undefined) stopListeningForSignals();
}

/** `--env NAME`, which may be given several times; none means every environment. */
export const envOption = (what: string) =>
  new Option("--env <name>", `${what} (repeat for more)`).argParser((value: string, previous: string[]) => [...previous, value]).default([], "all");

/** The environments `--env` names (every one when none), in the config's order; an unknown name is a ConfigError. */
export function selectEnvironments(config: Config, names: readonly string[]): Environment[] {
  names.forEach((name) => findEnvironment(config.environments, name));
  return config.environments.filter((e) => names.length === 0 || names.includes(e.name));
}

/*
 * Paths a verb writes or reads, checked at the top of its action, before the first AWS call,
 * simulated world or terraform command: exit 2 must mean nothing was changed (DESIGN.md, "CLI
 * contract"). Each error is one line naming the flag and the path as given.
 */

/** What is at `path`: a file, a directory, or nothing (also when something above it is a file). */
function kindOf(flag: string, shown: string, path: string): "file" | "directory" | undefined {
  try {
    return statSync(path).isDirectory() ? "directory" : "file";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new UsageError(`${flag}: ${shown}: cannot be read (${code ?? (error as Error).message})`);
  }
}

/** The nearest path above `path` that exists: a directory, or a file standing in the way. */
function nearestAbove(flag: string, shown: string, path: string): { path: string; kind: "file" | "directory" } {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const kind = kindOf(flag, shown, dir);
    if (kind) return { path: dir, kind };
    if (dirname(dir) === dir) return { path: dir, kind: "directory" };
  }
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/**
 * A file a verb will write (`--comment`, `--out`): the path is not a directory, and its directory
 * exists (with `createDirectory`, the verb makes it: then no file may stand in its way) and can
 * be written to. Returns the absolute path.
 */
export function outputFileOption(flag: string, path: string, options: { createDirectory?: boolean } = {}): string {
  const absolute = resolve(path);
  const kind = kindOf(flag, path, absolute);
  if (kind === "directory") throw new UsageError(`${flag}: ${path}: is a directory, not a file`);
  const above = nearestAbove(flag, path, absolute);
  if (above.kind === "file") throw new UsageError(`${flag}: ${path}: ${shownPath(above.path)} is not a directory`);
  if (above.path !== dirname(absolute) && !options.createDirectory) throw new UsageError(`${flag}: ${path}: its directory does not exist`);
  try {
    accessSync(kind === "file" ? absolute : above.path, constants.W_OK);
  } catch (error) {
    throw new UsageError(`${flag}: ${path}: cannot be written (${errnoOf(error)})`);
  }
  return absolute;
}

/** A file a verb will read (`--plan`): it exists, is a file and can be read. Returns the absolute path. */
export function existingFile(flag: string, path: string): string {
  const absolute = resolve(path);
  const kind = kindOf(flag, path, absolute);
  if (kind === undefined) {
    const above = nearestAbove(flag, path, absolute);
    throw new UsageError(`${flag}: ${path}: ${above.kind === "file" ? `${shownPath(above.path)} is not a directory` : "does not exist"}`);
  }
  if (kind === "directory") throw new UsageError(`${flag}: ${path}: is a directory, not a file`);
  try {
    accessSync(absolute, constants.R_OK);
  } catch (error) {
    throw new UsageError(`${flag}: ${path}: cannot be read (${errnoOf(error)})`);
  }
  return absolute;
}
