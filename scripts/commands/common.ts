/**
 * What every verb shares: the options of DESIGN.md's CLI contract, loading config and pins,
 * logging (text or one JSON object per line), and how a verb ends with an exit code.
 */
import { type Command, Option } from "commander";
import { UsageError } from "../core/errors";
import { SCENARIOS, type ScenarioName } from "../sim/scenario-list";
import { type Config, findEnvironment, loadConfig as loadConfigFile } from "../config/file";

/** Exit codes of every verb (README, "Exit codes"). */
export const EXIT = {
  ok: 0,
  /** The operation failed or was rolled back. */
  failed: 1,
  /** Bad input or usage; nothing was changed. */
  badInput: 2,
  /** The plan guard refused the plan. */
  guardRefused: 3,
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
  readonly logFormat: "text" | "json";
}

/** Adds `--simulate [--scenario NAME]` and `--log-format` to a verb. */
export function withCommonOptions(command: Command): Command {
  return command
    .option("--config <file>", "the amiroll.json to use (default: AMIROLL_CONFIG, else the nearest amiroll.json from the current directory up)")
    .option("--simulate", "run against the simulated AWS seeded from the environments config (no AWS account needed)")
    .addOption(new Option("--scenario <name>", "the simulated world's scenario (with --simulate)").choices(Object.keys(SCENARIOS)))
    .addOption(new Option("--log-format <format>", "progress as text, or one JSON object per line").choices(["text", "json"]).default(process.env.CI ? "json" : "text"))
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

export interface Logger {
  /** A step of progress, with fields for the JSON form. */
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A line of a tool's own output (terraform), passed through. */
  output(source: string, line: string): void;
}

/** Progress goes to stderr, so stdout carries only the verb's result (a comment, a report). */
export function createLogger(format: "text" | "json", write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(format === "json" ? JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) : level === "warn" ? `warning: ${message}` : message);
  return {
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    output: (source, line) => (format === "json" ? emit("output", line, { source }) : write(`  ${source}: ${line}`)),
  };
}

/**
 * Ctrl-C while terraform runs: the signal aborts, the runner forwards SIGINT so terraform stops
 * gracefully (it never kills an apply), and the verb ends with terraform's error. Call the
 * returned function when done.
 */
export function interruptible(log: Logger): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    log.warn("interrupted: asking terraform to stop gracefully (it finishes the operations in flight and saves its state)");
    controller.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    done: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
