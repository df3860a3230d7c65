/**
 * The amiroll CLI entry: parses argv, dispatches to commands/, maps errors to exit codes and
 * one-line messages (never a stack trace for an error a user can cause).
 *
 * The verbs of DESIGN.md's CLI contract land here one issue at a time; README lists those
 * that exist.
 */
import { Command, CommanderError } from "commander";
import { PropsError } from "../constructs/errors";
import { ConfigError } from "../stacks/config-input";

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

export function buildProgram(): Command {
  const { version } = require("../package.json") as { version: string };
  return new Command("amiroll")
    .description("Roll ECS-on-EC2 clusters onto a new AMI: plan, guard, apply, watch and promote")
    .version(version)
    .showHelpAfterError("(run amiroll --help for usage)")
    .exitOverride();
}

/** Runs the CLI and returns its exit code (the bin script exits with it). */
export async function main(argv: readonly string[], program: Command = buildProgram()): Promise<number> {
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.badInput;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT.ok;
  } catch (error) {
    return exitCodeOf(error);
  }
}

/** Maps an error to its exit code, printing the one line a user needs. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with exit code 0; commander has printed them.
    return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
  }
  if (error instanceof ConfigError || error instanceof PropsError) {
    console.error(`amiroll: ${error.message}`);
    return EXIT.badInput;
  }
  console.error(`amiroll: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT.failed;
}
