/**
 * `amiroll plan --env E`: synthesize, terraform init + plan, judge the plan with the guard, and
 * write the Atlantis-style comment (stdout, a file, or the pull request's sticky comment).
 * Exit 0 when the guard accepts, 3 when it refuses.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { planComment } from "../terraform/comment";
import { describeStickyResult, githubContextFromEnv, octokitComments, postStickyComments } from "../terraform/github";
import { type GuardResult, guardPlan, guardText } from "../terraform/guard";
import { type Plan, parsePlan, summaryLine } from "../terraform/plan";
import { type Logger, createLogger } from "../core/log";
import { UsageError } from "../core/errors";
import { type CommonOptions, EXIT, Exit, findEnvironment, interruptible, loadConfig, outputFileOption, stderrSink, withCommonOptions } from "./common";
import { type GuardFlags, withGuardOptions } from "./guard-flags";
import { holdsOf } from "../config/environments";
import { type Stack, openStack } from "./stack";
import { type AlarmsSeen, alarmWarnings, seeAlarms } from "../fleet/alarms";

/**
 * Plans `stack` into `planFile` (or, with `saved`, takes the plan already there) and judges it.
 */
export async function planAndGuard(
  stack: Stack,
  planFile: string,
  flags: GuardFlags,
  log: Logger,
  options: { saved?: boolean } = {},
): Promise<{ plan: Plan; guard: GuardResult }> {
  log.info("terraform init");
  await stack.runner.init();
  if (!options.saved) {
    log.info("terraform plan");
    await stack.runner.plan(planFile);
  }
  const plan = parsePlan(await stack.runner.showJson(planFile), options.saved ? planFile : `terraform show -json ${planFile}`);
  const guard = guardPlan(plan, { expect: flags.expect, allow: flags.allow });
  log.info(`${summaryLine(plan)} Guard: ${guard.accepted ? "accepted" : "refused"} (expected ${guard.expect})`, {
    summary: plan.summary,
    accepted: guard.accepted,
    expect: guard.expect,
  });
  return { plan, guard };
}

/** Where `--out` puts the plan: into a directory (as `<env>.tfplan`), or as this file. */
export type PlanOut = { readonly directory: string } | { readonly file: string };

/**
 * `--out`, checked before terraform runs: a directory that exists, or a file whose directory
 * exists (a path ending in a slash means a directory, so it must exist).
 */
export function planOutOption(out: string): PlanOut {
  const path = resolve(out);
  const exists = existsSync(path);
  if (exists && statSync(path).isDirectory()) return { directory: path };
  if (/[\\/]$/.test(out)) throw new UsageError(`--out: ${out}: ${exists ? "is a file, not a directory" : "no such directory"}`);
  return { file: outputFileOption("--out", out) };
}

/** The plan file: in the `--out` directory as `<env>.tfplan`, the `--out` file, else in the stack. */
export function planFileFor(out: PlanOut | undefined, env: string, stackDirectory: string): string {
  if (!out) return join(stackDirectory, "amiroll.tfplan");
  return "directory" in out ? join(out.directory, `${env}.tfplan`) : out.file;
}

interface PlanOptions extends CommonOptions, GuardFlags {
  readonly env: string;
  readonly out?: string;
  readonly comment?: string;
  readonly github?: boolean;
}

export function planCommand(): Command {
  const command = new Command("plan")
    .description("plan one environment, judge the plan with the guard, and write the PR comment (exit 3 if the guard refuses)")
    .requiredOption("--env <name>", "the environment to plan")
    .option("--out <path>", "where to save the plan: a directory (gets <env>.tfplan) or a file (default: in the synthesized stack)")
    .option("--comment <file>", "write the markdown comment to this file instead of stdout")
    .option("--github", "create or update the sticky comment on the pull request (GitHub Actions)");
  return withCommonOptions(withGuardOptions(command)).action(async (options: PlanOptions) => {
    // Every flag first, then the config, all before terraform runs: exit 2 must mean nothing ran.
    const out = options.out === undefined ? undefined : planOutOption(options.out);
    const commentFile = options.comment === undefined ? undefined : outputFileOption("--comment", options.comment);
    const github = options.github ? githubContextFromEnv() : undefined;
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);
    // The watched alarms' client, made now: a bad AMIROLL_AWS_MAX_ATTEMPTS is exit 2 before terraform runs.
    const realClients = environment.alarms && !options.simulate ? (require("../fleet/clients") as typeof import("../fleet/clients")).createAwsClients(environment) : undefined;
    const interrupt = interruptible(log);
    try {
      const stack = await openStack({ config, environment, log, simulate: options.simulate, scenario: options.scenario, signal: interrupt.signal });
      const planFile = planFileFor(out, environment.name, stack.directory);
      const { plan, guard } = await planAndGuard(stack, planFile, options, log);
      const applyCommand = options.simulate ? `amiroll apply --env ${environment.name} --simulate` : `amiroll apply --env ${environment.name} --plan ${planFile}`;
      // The watched alarms (config `alarms`): unknown names and alarms in ALARM are warned about here, and shown in the comment.
      let alarms: AlarmsSeen | undefined;
      if (environment.alarms) {
        const cloudwatch = stack.simulation?.clients.cloudwatch ?? realClients!.cloudwatch;
        alarms = await seeAlarms(cloudwatch, environment.alarms);
        for (const warning of alarmWarnings(environment.name, alarms)) log.warn(warning, { env: environment.name });
      }
      const parts = planComment(plan, guard, { env: environment.name, applyCommand, holds: holdsOf(environment), alarms });
      if (commentFile) {
        writeFileSync(commentFile, parts.join("\n\n"));
        log.info(`comment written to ${options.comment} (${parts.length} part${parts.length === 1 ? "" : "s"})`);
      }
      if (github) {
        const result = await postStickyComments(await octokitComments(github), environment.name, parts);
        log.info(describeStickyResult(result));
      }
      // stdout carries the result: the comment itself, unless it went elsewhere.
      console.log(options.comment || github ? `${summaryLine(plan)}\n${guardText(guard)}` : parts.join("\n\n"));
      if (!options.simulate) log.info(`plan saved to ${planFile}`);
      if (!guard.accepted) throw new Exit(EXIT.guardRefused);
    } finally {
      interrupt.done();
    }
  });
}
