/**
 * The amiroll CLI entry: parses argv, dispatches to commands/, maps errors to exit codes and
 * one-line messages (never a stack trace for an error a user can cause).
 *
 * README and docs/verbs.md list the verbs; each lives in commands/ and is loaded only when it runs.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Command, CommanderError } from "commander";
import { PropsError } from "../constructs/errors";
import { ConfigError } from "./config/input";
import { EXIT, Exit, commanderOutputAsJson, requestedLogFormat, stderrSink } from "./commands/common";
import { GuardRefusal, TerraformError, UsageError } from "./core/errors";
import { terminalLine } from "./core/inert";
import { type Logger, createLogger } from "./core/log";
import { hideWarnings, logWarnings } from "./core/warnings";

export { EXIT };

/**
 * The verbs, in the order help lists them. A verb's module (and what it imports: cdktf, the SDK,
 * the simulator) is loaded only when that verb runs, so `--help` and light verbs start fast.
 */
const VERBS: readonly { readonly name: string; readonly summary: string; readonly load: () => Command }[] = [
  { name: "init", summary: "write amiroll.json and amis.json into this directory (and the CI file)", load: () => require("./commands/init").initCommand() },
  { name: "synth", summary: "write each environment's terraform stack into the config's outDir", load: () => require("./commands/synth").synthCommand() },
  { name: "status", summary: "what runs where: pinned and newest images, instances by AMI, holds, windows", load: () => require("./commands/status").statusCommand() },
  { name: "bump", summary: "pin each cluster to its newest verified image and print the PR (--open-pr: open it)", load: () => require("./commands/bump").bumpCommand() },
  { name: "plan", summary: "terraform plan an environment, guard it, and write the PR comment", load: () => require("./commands/plan").planCommand() },
  { name: "guard", summary: "judge a plan (terraform show -json) against the expected roll, offline", load: () => require("./commands/guard").guardCommand() },
  { name: "apply", summary: "apply an environment's guarded plan and watch the tasks move", load: () => require("./commands/apply").applyCommand() },
  { name: "verify", summary: "watch an applied environment to done, run its gates, record the image as verified or rejected", load: () => require("./commands/verify").verifyCommand() },
  { name: "watch", summary: "watch ECS tasks move off the old instances until done or stuck", load: () => require("./commands/watch").watchCommand() },
  { name: "rebalance", summary: "spread services whose tasks sit in one zone", load: () => require("./commands/rebalance").rebalanceCommand() },
  { name: "rollout", summary: "roll the pinned image through the environments, staging then production", load: () => require("./commands/rollout").rolloutCommand() },
  { name: "state", summary: "restore an environment's terraform state from a backup taken before an apply", load: () => require("./commands/state").stateCommand() },
  { name: "iam-policy", summary: "print the least-privilege IAM policy (JSON) for watch, plan or apply", load: () => require("./commands/iam-policy").iamPolicyCommand() },
];

/**
 * The CLI. Only the verb `argv` names is loaded in full; the others are listed by name and
 * summary for `amiroll --help` (`amiroll help VERB` and `amiroll VERB --help` load VERB).
 */
export function buildProgram(argv: readonly string[] = []): Command {
  const program = new Command("amiroll")
    .description("Roll ECS-on-EC2 clusters onto a new AMI: plan, guard, apply, watch and promote")
    .version(packageVersion())
    .showHelpAfterError("(run amiroll --help for usage)")
    .exitOverride();
  const wanted = argv[0] === "help" ? argv[1] : argv[0];
  for (const verb of VERBS) {
    // addCommand does not pass settings down: without this a verb's usage error would exit 1 itself.
    const command = verb.name === wanted ? verb.load() : new Command(verb.name).description(verb.summary);
    program.addCommand(command.copyInheritedSettings(program));
  }
  return program;
}

/** amiroll's version, from its package.json (found upward: this file runs from scripts/ or dist/scripts/). */
function packageVersion(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "unknown";
}

/** Runs the CLI and returns its exit code (the bin script exits with it). */
export async function main(argv: readonly string[], program: Command = buildProgram(argv)): Promise<number> {
  // Before a verb creates an SDK client: the SDK warns then, on Node < 22, about its 2027 releases.
  hideWarnings();
  // The verb's --log-format, known before commander parses: even a usage error is reported in it.
  const log = createLogger(requestedLogFormat(argv), stderrSink);
  if (log.format === "json") {
    logWarnings(log);
    commanderOutputAsJson(program, log);
  }
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    if (log.format === "json") log.error("no verb given (amiroll --help lists them)", { exitCode: EXIT.badInput });
    return EXIT.badInput;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT.ok;
  } catch (error) {
    return exitCodeOf(error, log);
  }
}

/**
 * Maps an error to its exit code, printing through `log` the one line a user needs: `amiroll:
 * MESSAGE` as text, a JSON object with `level: "error"`, `exitCode` and the error's name as JSON.
 */
export function exitCodeOf(error: unknown, log: Logger = createLogger("text", (line) => console.error(line))): number {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with exit code 0. As text, commander has printed the
    // error; as JSON it left it to this line (commanderOutputAsJson).
    if (error.exitCode === 0) return EXIT.ok;
    if (log.format === "json") log.error(error.message.replace(/^error: /, ""), { exitCode: EXIT.badInput, error: error.code });
    return EXIT.badInput;
  }
  if (error instanceof Exit) return error.code;
  if (error instanceof GuardRefusal) {
    if (log.format === "json") log.error(error.message, { exitCode: EXIT.guardRefused, error: error.name, reasons: error.reasons });
    // One line per reason: a newline inside a reason (plan text) must not fake another bullet.
    else log.error(`${error.message}:\n${error.reasons.map((r) => `  - ${terminalLine(r)}`).join("\n")}`);
    return EXIT.guardRefused;
  }
  // terraform stopped by Ctrl-C or SIGTERM (plan, apply): interrupted, not failed.
  const code = error instanceof ConfigError || error instanceof PropsError || error instanceof UsageError ? EXIT.badInput : error instanceof TerraformError && error.interrupted ? EXIT.interrupted : EXIT.failed;
  log.error(error instanceof Error ? error.message : String(error), { exitCode: code, ...(error instanceof Error && { error: error.name }) });
  return code;
}
