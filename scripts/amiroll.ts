/**
 * The amiroll CLI entry: parses argv, dispatches to commands/, maps errors to exit codes and
 * one-line messages (never a stack trace for an error a user can cause).
 *
 * The verbs of DESIGN.md's CLI contract land here one issue at a time; README lists those
 * that exist.
 */
import { Command, CommanderError } from "commander";
import { PropsError } from "../constructs/errors";
import { ConfigError } from "./config/input";
import { applyCommand } from "./commands/apply";
import { EXIT, Exit } from "./commands/common";
import { guardCommand } from "./commands/guard";
import { planCommand } from "./commands/plan";
import { rebalanceCommand } from "./commands/rebalance";
import { rolloutCommand } from "./commands/rollout";
import { bumpCommand } from "./commands/bump";
import { statusCommand } from "./commands/status";
import { watchCommand } from "./commands/watch";
import { GuardRefusal, UsageError } from "./core/errors";

export { EXIT };

export function buildProgram(): Command {
  const { version } = require("../package.json") as { version: string };
  const program = new Command("amiroll")
    .description("Roll ECS-on-EC2 clusters onto a new AMI: plan, guard, apply, watch and promote")
    .version(version)
    .showHelpAfterError("(run amiroll --help for usage)")
    .exitOverride();
  for (const verb of [statusCommand(), bumpCommand(), planCommand(), guardCommand(), applyCommand(), watchCommand(), rebalanceCommand(), rolloutCommand()]) {
    // addCommand does not pass settings down: without this a verb's usage error would exit 1 itself.
    program.addCommand(verb.copyInheritedSettings(program));
  }
  return program;
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
  if (error instanceof Exit) return error.code;
  if (error instanceof GuardRefusal) {
    console.error(`amiroll: ${error.message}:\n${error.reasons.map((r) => `  - ${r}`).join("\n")}`);
    return EXIT.guardRefused;
  }
  if (error instanceof ConfigError || error instanceof PropsError || error instanceof UsageError) {
    console.error(`amiroll: ${error.message}`);
    return EXIT.badInput;
  }
  console.error(`amiroll: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT.failed;
}
